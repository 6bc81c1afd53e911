//! The flavor of a group: the smallest that holds the summed CPU and memory of its containers.

use serde::Deserialize;
use tars_api::{ContainerGroupSpec, Feature, Result};

use super::unsupported;

const MIB: u64 = 1024 * 1024;

/// A Nova flavor, as `GET /flavors/detail` lists it (the fields tars uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Flavor {
    /// Its id (`flavorRef` of a server create).
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// Virtual CPUs.
    pub(crate) vcpus: u32,
    /// Memory, MiB.
    pub(crate) ram: u64,
    /// Root disk, GiB.
    pub(crate) disk: u64,
}

/// What a group needs: its containers' CPU and memory, summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Need {
    /// CPU, millicores.
    pub(crate) cpu_millis: u64,
    /// Memory, bytes.
    pub(crate) memory_bytes: u64,
}

impl Need {
    /// The summed resources of `spec`'s containers (a container without a CPU or memory limit
    /// adds nothing to it).
    pub(crate) fn of(spec: &ContainerGroupSpec) -> Need {
        let mut need = Need {
            cpu_millis: 0,
            memory_bytes: 0,
        };
        for c in &spec.containers {
            need.cpu_millis += c.resources.cpu.map_or(0, |c| u64::from(c.as_millis()));
            need.memory_bytes += c.resources.memory.map_or(0, |m| m.as_bytes());
        }
        need
    }

    /// Whole vCPUs, rounded up.
    pub(crate) fn vcpus(self) -> u64 {
        self.cpu_millis.div_ceil(1000)
    }

    /// MiB, rounded up.
    pub(crate) fn ram_mib(self) -> u64 {
        self.memory_bytes.div_ceil(MIB)
    }

    fn fits(self, f: &Flavor) -> bool {
        u64::from(f.vcpus) >= self.vcpus() && f.ram >= self.ram_mib()
    }
}

/// The smallest flavor of `flavors` that holds `need`: least memory, then fewest vCPUs, then
/// least disk, then name (so that the choice is stable). Flavors with no root disk are left out:
/// Nova lets only admins boot an image on them. None fits → `Unsupported` naming the need and
/// the largest flavor there is, for the group spec at `path`.
pub(crate) fn smallest_fitting<'a>(
    flavors: &'a [Flavor],
    need: Need,
    path: &str,
) -> Result<&'a Flavor> {
    let usable = || flavors.iter().filter(|f| f.disk > 0);
    if let Some(f) = usable()
        .filter(|f| need.fits(f))
        .min_by(|a, b| (a.ram, a.vcpus, a.disk, &a.name).cmp(&(b.ram, b.vcpus, b.disk, &b.name)))
    {
        return Ok(f);
    }
    let largest = usable()
        .max_by(|a, b| (a.ram, a.vcpus).cmp(&(b.ram, b.vcpus)))
        .map_or_else(
            || "the cloud offers no flavor with a root disk".to_owned(),
            |f| {
                format!(
                    "the largest is {} ({} vCPU, {} MiB)",
                    f.name, f.vcpus, f.ram
                )
            },
        );
    let feature = if usable().any(|f| f.ram >= need.ram_mib()) {
        Feature::CpuLimits
    } else {
        Feature::MemoryLimits
    };
    Err(unsupported(
        feature,
        &format!("{path}.containers[*].resources"),
        &format!(
            "the group needs {} vCPU ({}m summed) and {} MiB of memory; no flavor fits: {largest}",
            need.vcpus(),
            need.cpu_millis,
            need.ram_mib()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use tars_api::{Cpu, Error, Memory};

    use super::super::tests::group;
    use super::*;

    /// The flavors `scripts/engines/openstack/up.sh` creates, in no particular order, plus a
    /// zero-disk one.
    fn flavors() -> Vec<Flavor> {
        [
            ("m1.large", 4, 8192, 80),
            ("m1.nano", 1, 128, 1),
            ("m1.xlarge", 8, 16384, 160),
            ("m1.tiny", 1, 512, 1),
            ("m1.medium", 2, 4096, 40),
            ("m1.small", 1, 2048, 20),
            ("diskless", 16, 64, 0),
        ]
        .into_iter()
        .map(|(name, vcpus, ram, disk)| Flavor {
            id: format!("id-{name}"),
            name: name.into(),
            vcpus,
            ram,
            disk,
        })
        .collect()
    }

    fn pick(cpu_millis: u64, mib: u64) -> Result<String> {
        let need = Need {
            cpu_millis,
            memory_bytes: mib * MIB,
        };
        let flavors = flavors();
        smallest_fitting(&flavors, need, "spec").map(|f| f.name.clone())
    }

    #[test]
    fn summed_need_of_a_group_rounds_up() {
        let need = Need::of(&group().spec);
        assert_eq!(need.cpu_millis, 750);
        assert_eq!(need.vcpus(), 1);
        assert_eq!(need.ram_mib(), 320);
        let flavors = flavors();
        assert_eq!(
            smallest_fitting(&flavors, need, "spec").expect("fits").name,
            "m1.tiny"
        );
    }

    #[test]
    fn smallest_flavor_that_holds_cpu_and_memory() {
        assert_eq!(pick(0, 0).expect("fits"), "m1.nano");
        assert_eq!(pick(1000, 128).expect("fits"), "m1.nano");
        assert_eq!(pick(1000, 129).expect("fits"), "m1.tiny");
        assert_eq!(pick(1001, 128).expect("fits"), "m1.medium");
        assert_eq!(pick(2000, 4096).expect("fits"), "m1.medium");
        assert_eq!(pick(3000, 100).expect("fits"), "m1.large");
        assert_eq!(pick(8000, 16384).expect("fits"), "m1.xlarge");
    }

    #[test]
    fn no_flavor_fits_is_unsupported_naming_the_need() {
        let err = pick(500, 32768).expect_err("too much memory");
        let Error::Unsupported {
            feature, reason, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(*feature, Feature::MemoryLimits);
        assert!(
            reason.starts_with("spec.containers[*].resources: "),
            "{reason}"
        );
        assert!(
            reason.contains("1 vCPU (500m summed) and 32768 MiB"),
            "{reason}"
        );
        assert!(
            reason.contains("the largest is m1.xlarge (8 vCPU, 16384 MiB)"),
            "{reason}"
        );

        let err = pick(9000, 64).expect_err("too many cores");
        assert!(
            matches!(
                err,
                Error::Unsupported {
                    feature: Feature::CpuLimits,
                    ..
                }
            ),
            "{err}"
        );

        let none: Vec<Flavor> = Vec::new();
        let err = smallest_fitting(&none, Need::of(&group().spec), "spec").expect_err("empty");
        assert!(
            err.to_string().contains("no flavor with a root disk"),
            "{err}"
        );
    }

    #[test]
    fn nova_flavor_json_reads() {
        let json = r#"{"id": "1", "name": "m1.tiny", "ram": 512, "disk": 1, "swap": "",
            "OS-FLV-EXT-DATA:ephemeral": 0, "vcpus": 1, "os-flavor-access:is_public": true,
            "rxtx_factor": 1.0, "links": []}"#;
        let f: Flavor = serde_json::from_str(json).expect("flavor");
        assert_eq!((f.vcpus, f.ram, f.disk), (1, 512, 1));
        let mut spec = group().spec;
        spec.containers[0].resources.cpu = Some(Cpu::cores(1));
        spec.containers[0].resources.memory = Some(Memory::mebibytes(100));
        assert_eq!(Need::of(&spec).ram_mib(), 164);
    }
}
