//! The function binaries as Lambdas, and whole deployments (ECS and CodeDeploy) rehearsed end to end.
mod campaign;
mod codedeploy;
mod doctor;
mod functions;
mod pause;
mod release_day;
mod report;
mod scenarios;
mod status;
mod topologies;
