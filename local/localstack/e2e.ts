/** `npm run localstack:e2e`: the e2e Jest project against .local/localstack-outputs.json. Extra arguments go on (README.md). */
import { runCommand } from './localstack';

runCommand('e2e', process.env, process.argv.slice(2)).then((code) => process.exit(code));
