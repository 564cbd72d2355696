//! ECS native lifecycle hook events and responses.
