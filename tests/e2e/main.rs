//! greenlight end-to-end tests: one binary, one module per area.
mod adapters;
mod cli;
mod codedeploy;
mod config_examples;
mod docs;
mod engine;
mod fixtures;
mod functions;
mod hook;
mod moto;
mod report;
mod scenarios;
mod team_functions;
mod topologies;
mod world;
