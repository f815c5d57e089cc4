// Package repotest holds tests about the repository as a whole: conventions
// every package must follow. It has no code of its own.
package repotest
