/** esbuild bundles the style sheet main.ts imports; to TypeScript it is a module with no exports. */
declare module '*.css';
