//! `poolguard::model::endpoint::parse` on arbitrary values: never panics; hosts come back
//! ASCII-lower-case (DNS names; non-ASCII letters are left as written), and the service
//! candidates of every host can be computed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolguard::model::endpoint;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(ep) = endpoint::parse(value) {
        for h in &ep.hosts {
            assert!(
                !h.bytes().any(|b| b.is_ascii_uppercase()),
                "host not lower-case: {h:?}"
            );
            let _ = endpoint::service_candidates(h, "ns");
        }
    }
    let _ = endpoint::is_host_var(value);
});
