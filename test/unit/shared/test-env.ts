/**
 * Imported for its side effect, as the first import of a test file: sets TEST_ENV
 * before any module that reads configuration when it loads (http, powertools).
 *
 *   import './test-env';
 *   import { httpHandler } from '#shared/http';
 */
import { setTestEnv } from './fixtures';

setTestEnv();
