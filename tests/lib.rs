//! Integration tests, one binary so the heavy crate links once.

mod common;

mod cache_behaviour;
mod cli;
mod concurrency;
mod differential;
mod equivalence;
mod errors;
mod loading;
mod refresh;
mod semantics;
