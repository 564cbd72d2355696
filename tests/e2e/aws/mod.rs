//! The AWS adapters and the simulator's world against moto, through the real SDK clients.
mod adapters;
mod common;
mod events;
mod moto;
mod stack;
mod team_functions;
mod world;
