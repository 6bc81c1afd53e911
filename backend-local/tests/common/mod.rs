//! What the SIGKILL tests of this backend share.

use std::collections::BTreeMap;
use std::path::Path;

/// Pids of processes whose environment says they belong to a group of this state, by group.
pub(crate) fn processes_by_group(state: &Path) -> BTreeMap<String, Vec<u32>> {
    let prefix = format!("HOME={}/groups/", state.display());
    let mut out: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if zombie {
            continue;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        for var in environ.split(|b| *b == 0) {
            if let Some(name) = std::str::from_utf8(var)
                .ok()
                .and_then(|v| v.strip_prefix(&prefix))
                .and_then(|rest| rest.strip_suffix("/sandbox"))
            {
                out.entry(name.to_owned()).or_default().push(pid);
            }
        }
    }
    out
}
