//! CronJob ⇄ batch/v1 (or batch/v1beta1) CronJob (+ its Jobs for runs).
