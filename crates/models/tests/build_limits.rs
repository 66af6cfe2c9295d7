//! Limits the network builder enforces on what it draws, for networks built through the API
//! (model files are checked earlier, with the file and line): a drawn delay beyond the ring
//! buffers' longest is refused with the projection's name, however the shard is drawn.

use laminar_engine::{BuildError, Dist, NetworkBuilder, Projection, Resolution, Rule};
use laminar_models::registry;
use serde_json::Map;

/// Two populations of `n` neurons and one projection between them with delays `delay` (ms).
fn network(n: usize, k: u64, delay: Dist) -> NetworkBuilder {
    let mut b = NetworkBuilder::new(Resolution::new(0.1).unwrap(), 7);
    let factory = || registry::population_factory("iaf_psc_exp", &Map::new(), n).unwrap();
    let source = b.add_population("source", n, factory());
    let target = b.add_population("target", n, factory());
    b.add_projection(Projection::new("long", source, target, Rule::FixedIndegree { k }, Dist::Constant(1.0), delay));
    b
}

#[test]
fn a_drawn_delay_beyond_the_longest_is_refused_naming_the_projection() {
    // 65535 steps is 6553.5 ms at 0.1 ms: a tenth of these delays lie beyond it.
    let delay = Dist::Normal { mean: 6000.0, std: 430.0 };
    // A shard of 25 or 50 targets is drawn in one chunk; one of 1000 or 2000 targets with
    // in-degree 4000 in chunks (the first of 64 targets already draws delays beyond the limit).
    for (n, k) in [(50, 10), (2000, 4000)] {
        for threads in [1, 2] {
            match network(n, k, delay).build(threads) {
                Err(BuildError::Projection { projection, message }) => {
                    assert_eq!(projection, "long");
                    assert!(message.contains("exceeds the longest supported, 65535 steps"), "{message}");
                }
                other => panic!("n = {n}, {threads} threads: expected the projection's error, got {:?}", other.err()),
            }
        }
    }
    // Within the limit the same network builds.
    assert!(network(50, 10, Dist::Normal { mean: 3000.0, std: 100.0 }).build(2).is_ok());
}
