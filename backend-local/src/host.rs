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
