/** `npm run localstack:deploy`: cdklocal bootstrap + deploy, writing .local/localstack-outputs.json. Extra arguments go on (README.md). */
import { runCommand } from './localstack';

runCommand('deploy', process.env, process.argv.slice(2)).then((code) => process.exit(code));
