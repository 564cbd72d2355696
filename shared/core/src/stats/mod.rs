//! Statistics for judging green against a baseline when the stage is looked at again and again.
//!
//! A stage is judged every `interval` through its bake, its `max_wait` and every traffic step, so
//! a test that is valid for one look (a z-test at p < 0.01) is wrong at the thirtieth. The tests
//! here are *always valid*: their error rates hold for any number of looks, taken at any times,
//! because each is a nonnegative supermartingale under its null hypothesis and Ville's inequality
//! bounds the chance it ever crosses `1/α`. See [`sequential`] for the formulas, assumptions and
//! references.

pub mod binomial;
pub mod sequential;
