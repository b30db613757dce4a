#!/usr/bin/env node
// The `pop` command. The TypeScript sources are compiled to dist/ by `npm ci` (the prepare script).
try {
  await import('../dist/cli/main.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli/main.js')) {
    console.error('pop: dist/ is missing; run `npm run build` (npm ci does it for you) and try again.');
    process.exit(2);
  }
  throw error;
}
