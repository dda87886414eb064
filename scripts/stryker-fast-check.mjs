// Preloaded into every test process of a mutation run (stryker.config.mjs, `tap.nodeArgs`):
// a property that fails under a mutant has killed it, and shrinking the counterexample to the
// smallest one would only cost time, once per mutant. The properties still run all their cases.
import fc from 'fast-check'

fc.configureGlobal({...fc.readConfigureGlobal(), endOnFailure: true})
