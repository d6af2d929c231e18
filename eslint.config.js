// Lint rules for the TypeScript tree. Deep imports across concerns are banned: each folder's
// index.ts is its public surface.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'native/target/**', 'native/binding.d.ts', 'build/**', 'bin/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // end-to-end tests read JSON documents (config dumps, tool output) whose shape they assert
    files: ['test/netns/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
