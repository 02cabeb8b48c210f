//! Sync plans: ordered groups of steps, each a target and an operation.

use crate::bindings::max::connector::types as wit;

pub use wit::SeedState;
pub use wit::Target;

/// What a step does.
pub type Operation = wit::Operation;

impl wit::SeedState {
    /// The cursor stored for a change-feed loader by an earlier sync.
    pub fn cursor(&self, loader: &str) -> Option<&str> {
        self.cursors.iter().find(|(name, _)| name == loader).map(|(_, c)| c.as_str())
    }
}

impl wit::Target {
    /// Every entity of this type known when the step runs.
    pub fn all(entity: &str) -> Self {
        wit::Target::All(entity.to_string())
    }

    /// One entity.
    pub fn one(entity: &str, id: &str) -> Self {
        wit::Target::One(wit::EntityRef { entity: entity.to_string(), id: id.to_string() })
    }
}

/// Builds the operation of a step.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepBuilder;

impl StepBuilder {
    /// Fill these fields.
    pub fn fields(self, fields: &[&str]) -> Operation {
        wit::Operation::LoadFields(fields.iter().map(|f| f.to_string()).collect())
    }

    /// Load every page of this collection field.
    pub fn collection(self, field: &str) -> Operation {
        wit::Operation::LoadCollection(field.to_string())
    }

    /// Drain this change-feed loader.
    pub fn changes(self, loader: &str) -> Operation {
        wit::Operation::FollowChanges(loader.to_string())
    }
}

/// A sync plan under construction.
#[derive(Debug, Clone, Default)]
pub struct SyncPlan(pub(crate) Vec<Vec<wit::Step>>);

impl SyncPlan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a group of one step, run after everything before it.
    pub fn then(mut self, target: Target, operation: impl FnOnce(StepBuilder) -> Operation) -> Self {
        self.0.push(vec![wit::Step { target, operation: operation(StepBuilder) }]);
        self
    }

    /// Adds a group of steps that run concurrently, after everything before them.
    pub fn together(mut self, steps: Vec<(Target, Operation)>) -> Self {
        self.0.push(steps.into_iter().map(|(target, operation)| wit::Step { target, operation }).collect());
        self
    }
}
