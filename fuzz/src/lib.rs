//! Harnesses for the targets whose code lives outside `pgcluster-protocol` (which has its
//! own in `pgcluster_protocol::fuzzing`).
