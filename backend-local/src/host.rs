//! This host's attributes, for placement constraints.

use std::collections::BTreeMap;

/// `hostname`, `os` and `arch` of this host.
pub(crate) fn attributes() -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::new();
    if let Ok(name) = nix::unistd::gethostname() {
        attrs.insert("hostname".to_owned(), name.to_string_lossy().into_owned());
    }
    attrs.insert("os".to_owned(), std::env::consts::OS.to_owned());
    attrs.insert("arch".to_owned(), std::env::consts::ARCH.to_owned());
    attrs
}

/// Why cpu and memory limits cannot be enforced here, in words that fit this host.
pub(crate) fn limits_unsupported_reason() -> String {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "cpu and memory limits through cgroup v2 are not implemented by the embedded backend yet; \
         limits are not enforced, so groups asking for them are refused"
            .to_owned()
    } else {
        "this host has no unified cgroup v2 hierarchy (cgroup v1 only), through which the \
         embedded backend would enforce cpu and memory limits"
            .to_owned()
    }
}
