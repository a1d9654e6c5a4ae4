// The Electron entry (package.json "main" -> out/main/index.js). Everything Electron lives in app/;
// `npm run serve` starts the same service without Electron from headless.ts.
import './app/main'
