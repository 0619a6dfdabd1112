/** `npm run localstack:down`: compose down, volumes included. Extra arguments go on (README.md). */
import { runCommand } from './localstack';

runCommand('down', process.env, process.argv.slice(2)).then((code) => process.exit(code));
