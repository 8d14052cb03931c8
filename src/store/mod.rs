//! Run history: SQLite (runs, steps, metric datapoints) behind the narrow [`Store`] trait, and
//! the artifact folder layout.
