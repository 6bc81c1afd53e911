//! Deployment ⇄ apps/v1 Deployment (+ its ReplicaSets for revisions and history).
