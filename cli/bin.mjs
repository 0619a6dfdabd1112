#!/usr/bin/env node
// The `orchestrator` command: loads the TypeScript entry through tsx's API, so the CLI runs
// from source with the repo's subpath imports (#core/*, #shared/*) and needs no build step.
import { tsImport } from 'tsx/esm/api';

// The repo supports Node 20 (C1); the SDK's multi-line notice about its future Node 22 floor
// would break the CLI's promise of one stderr line per error.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await tsImport('./main.ts', import.meta.url);
process.exitCode = await main(process.argv);
