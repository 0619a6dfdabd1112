/** `npm run localstack:up`: compose up -d, then wait for the health endpoint. Extra arguments go on (README.md). */
import { runCommand } from './localstack';

runCommand('up', process.env, process.argv.slice(2)).then((code) => process.exit(code));
