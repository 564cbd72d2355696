//! CodeDeploy AppSpec hook events and the reporting contract.
