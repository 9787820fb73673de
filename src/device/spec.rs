//! The threads spec: rules that override a device's kind and pool size, and the decision they
//! make for each device met.

use super::DeviceKind;
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Largest accepted thread count, to turn typos into errors rather than huge pools.
const MAX_THREADS: usize = 1024;

/// Pool-size and kind overrides, parsed from a spec like
/// `ssd:8,hdd:1,ram:2,dev:/dev/sdb:2,path:/mnt/nas:4,path:/mnt/sim:hdd`.
///
/// Each comma-separated rule is `SELECTOR:VALUE`:
/// - SELECTOR is a kind (`ssd`, `hdd`, `ram`, `network`, `removable`, `unknown`), `dev:NAME`
///   (a disk such as `sdb` or `/dev/sdb`), or `path:PATH` (the device holding PATH; PATH may
///   contain `:` but not `,`).
/// - VALUE is a thread count (1–1024) or a kind: `dev:vda:ssd` treats vda as an SSD and gives it
///   an SSD's threads; `hdd:ssd` treats every HDD so.
///
/// A `path:` rule beats a `dev:` rule, which beats a kind rule; among equals the last wins.
///
/// ```
/// use multipool::ThreadsSpec;
/// let spec: ThreadsSpec = "ssd:8, hdd:1, path:/mnt/nas:4".parse().unwrap();
/// assert_eq!(spec.to_string(), "ssd:8,hdd:1,path:/mnt/nas:4");
/// assert!("ssd:0".parse::<ThreadsSpec>().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadsSpec {
    rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    selector: Selector,
    setting: Setting,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Selector {
    Kind(DeviceKind),
    Device(String),
    Path(PathBuf),
}

/// What a rule sets for the devices it selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setting {
    Threads(usize),
    Kind(DeviceKind),
}

/// A threads spec that could not be parsed; names the offending rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    rule: String,
    reason: &'static str,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "threads spec rule `{}`: {}", self.rule, self.reason)
    }
}

impl std::error::Error for SpecError {}

/// What the spec decided for one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) kind: DeviceKind,
    pub(crate) kind_overridden: bool,
    pub(crate) threads: usize,
    /// A rule gave the thread count: it is not adapted.
    pub(crate) pinned: bool,
}

impl ThreadsSpec {
    /// Parses a spec given as bytes (paths in `path:` rules need not be UTF-8).
    pub fn parse_bytes(spec: &[u8]) -> Result<ThreadsSpec, SpecError> {
        let mut rules = Vec::new();
        for raw in spec.split(|b| *b == b',') {
            let item = raw.trim_ascii();
            if item.is_empty() {
                continue;
            }
            let error = |reason| SpecError { rule: String::from_utf8_lossy(item).into(), reason };
            let Some(colon) = item.iter().rposition(|b| *b == b':') else {
                return Err(error("expected SELECTOR:VALUE"));
            };
            let (selector, value) = (&item[..colon], &item[colon + 1..]);
            let setting = parse_setting(value).ok_or_else(|| {
                error("value must be a thread count from 1 to 1024 or a device kind")
            })?;
            let selector = if let Some(kind) = DeviceKind::from_name(selector) {
                Selector::Kind(kind)
            } else if let Some(name) = selector.strip_prefix(b"dev:") {
                let name = name.strip_prefix(b"/dev/").unwrap_or(name);
                match std::str::from_utf8(name) {
                    Ok(name) if !name.is_empty() => Selector::Device(name.to_owned()),
                    _ => return Err(error("dev: needs a device name such as sdb or /dev/sdb")),
                }
            } else if let Some(path) = selector.strip_prefix(b"path:") {
                if path.is_empty() {
                    return Err(error("path: needs a path"));
                }
                Selector::Path(PathBuf::from(OsStr::from_bytes(path)))
            } else {
                return Err(error("selector must be a device kind, dev:NAME or path:PATH"));
            };
            rules.push(Rule { selector, setting });
        }
        Ok(ThreadsSpec { rules })
    }

    /// The paths named by `path:` rules, with what each sets.
    pub(crate) fn path_rules(&self) -> impl Iterator<Item = (&PathBuf, Setting)> {
        self.rules.iter().filter_map(|r| match &r.selector {
            Selector::Path(path) => Some((path, r.setting)),
            _ => None,
        })
    }

    /// Decides kind and threads for a device named `name` detected as `detected`. `by_path` are
    /// the settings of the `path:` rules whose path lies on this device, in spec order.
    pub(crate) fn decide(
        &self,
        name: &str,
        detected: DeviceKind,
        by_path: &[Setting],
        cpus: usize,
    ) -> Decision {
        let mut kind = detected;
        let mut threads = None;
        let kind_rules = self.rules.iter().filter_map(|r| match r.selector {
            Selector::Kind(k) if k == detected => Some(r.setting),
            _ => None,
        });
        let device_rules = self.rules.iter().filter_map(|r| match &r.selector {
            Selector::Device(n) if n == name => Some(r.setting),
            _ => None,
        });
        // Kind remaps (`hdd:ssd`) apply first; then the explicit rules in rising precedence.
        for setting in kind_rules.clone().filter(|s| matches!(s, Setting::Kind(_))) {
            apply(setting, &mut kind, &mut threads);
        }
        for setting in device_rules.chain(by_path.iter().copied()) {
            apply(setting, &mut kind, &mut threads);
        }
        let pinned_threads = threads.or_else(|| {
            // The thread count of the *final* kind's rule, e.g. `dev:vda:ssd,ssd:8` → 8.
            self.rules.iter().rev().find_map(|r| match (&r.selector, r.setting) {
                (Selector::Kind(k), Setting::Threads(n)) if *k == kind => Some(n),
                _ => None,
            })
        });
        let pinned = pinned_threads.is_some();
        let threads = pinned_threads.unwrap_or_else(|| kind.default_threads(cpus));
        Decision { kind, kind_overridden: kind != detected, threads, pinned }
    }
}

fn apply(setting: Setting, kind: &mut DeviceKind, threads: &mut Option<usize>) {
    match setting {
        Setting::Threads(n) => *threads = Some(n),
        Setting::Kind(k) => *kind = k,
    }
}

fn parse_setting(value: &[u8]) -> Option<Setting> {
    if let Some(kind) = DeviceKind::from_name(value) {
        return Some(Setting::Kind(kind));
    }
    let threads: usize = std::str::from_utf8(value).ok()?.parse().ok()?;
    (1..=MAX_THREADS).contains(&threads).then_some(Setting::Threads(threads))
}

impl std::str::FromStr for ThreadsSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<ThreadsSpec, SpecError> {
        ThreadsSpec::parse_bytes(spec.as_bytes())
    }
}

impl fmt::Display for ThreadsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match &rule.selector {
                Selector::Kind(kind) => write!(f, "{kind}")?,
                Selector::Device(name) => write!(f, "dev:{name}")?,
                Selector::Path(path) => write!(f, "path:{}", path.display())?,
            }
            match rule.setting {
                Setting::Threads(n) => write!(f, ":{n}")?,
                Setting::Kind(kind) => write!(f, ":{kind}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeviceKind::*;

    fn decide(spec: &str, name: &str, detected: DeviceKind) -> (DeviceKind, usize) {
        let d = spec.parse::<ThreadsSpec>().unwrap().decide(name, detected, &[], 2);
        (d.kind, d.threads)
    }

    #[test]
    fn empty_spec_gives_defaults() {
        assert_eq!(decide("", "sda", Hdd), (Hdd, 1));
        assert_eq!(decide(" , ", "nvme0n1", Ssd), (Ssd, 16));
    }

    #[test]
    fn a_count_from_any_rule_pins_the_device_and_a_kind_alone_does_not() {
        let pinned = |spec: &str, name, detected| {
            spec.parse::<ThreadsSpec>().unwrap().decide(name, detected, &[], 2).pinned
        };
        assert!(!pinned("", "vda", Ssd));
        assert!(!pinned("dev:vda:ssd", "vda", Hdd), "a kind is not a count");
        assert!(pinned("ssd:8", "vda", Ssd));
        assert!(pinned("dev:vda:ssd,ssd:6", "vda", Hdd));
        assert!(pinned("dev:vda:3", "vda", Ssd));
        assert!(!pinned("dev:sdb:3", "vda", Ssd), "another device's rule");
        let by_path = ThreadsSpec::default().decide("vda", Ssd, &[Setting::Threads(2)], 2);
        assert!(by_path.pinned);
    }

    #[test]
    fn kind_rules_set_threads() {
        assert_eq!(decide("ssd:8,hdd:2", "sda", Hdd), (Hdd, 2));
        assert_eq!(decide("ssd:8,hdd:2", "nvme0n1", Ssd), (Ssd, 8));
        assert_eq!(decide("ssd:8,ssd:3", "nvme0n1", Ssd), (Ssd, 3), "last rule wins");
    }

    #[test]
    fn device_rules_beat_kind_rules_in_either_order() {
        assert_eq!(decide("dev:/dev/sdb:2,hdd:1", "sdb", Hdd), (Hdd, 2));
        assert_eq!(decide("hdd:1,dev:sdb:3", "sdb", Hdd), (Hdd, 3));
        assert_eq!(decide("hdd:1,dev:sdb:3", "sda", Hdd), (Hdd, 1));
    }

    #[test]
    fn kind_values_reclassify() {
        assert_eq!(decide("dev:vda:ssd", "vda", Hdd), (Ssd, 16));
        assert_eq!(decide("dev:vda:ssd,ssd:6", "vda", Hdd), (Ssd, 6));
        assert_eq!(decide("hdd:ssd", "sda", Hdd), (Ssd, 16));
        let spec: ThreadsSpec = "dev:vda:ssd".parse().unwrap();
        assert!(spec.decide("vda", Hdd, &[], 2).kind_overridden);
        assert!(!spec.decide("sda", Hdd, &[], 2).kind_overridden);
    }

    #[test]
    fn path_rules_beat_device_rules() {
        let spec: ThreadsSpec = "dev:sdb:2,path:/mnt/nas:4".parse().unwrap();
        let paths: Vec<_> = spec.path_rules().collect();
        assert_eq!(paths, vec![(&PathBuf::from("/mnt/nas"), Setting::Threads(4))]);
        assert_eq!(spec.decide("sdb", Hdd, &[Setting::Threads(4)], 2).threads, 4);
        let d = spec.decide("sdb", Network, &[Setting::Kind(Hdd)], 2);
        assert_eq!((d.kind, d.threads), (Hdd, 2));
    }

    #[test]
    fn paths_may_contain_colons_and_odd_bytes() {
        let spec = ThreadsSpec::parse_bytes(b"path:/mnt/a:b\xff:hdd").unwrap();
        let (path, setting) = spec.path_rules().next().unwrap();
        assert_eq!(path.as_os_str().as_bytes(), b"/mnt/a:b\xff");
        assert_eq!(setting, Setting::Kind(Hdd));
    }

    #[test]
    fn bad_rules_are_named_in_the_error() {
        for (spec, fragment) in [
            ("ssd", "SELECTOR:VALUE"),
            ("ssd:0", "thread count"),
            ("ssd:1025", "thread count"),
            ("ssd:many", "thread count"),
            ("floppy:2", "selector"),
            ("dev::2", "dev:"),
            ("path::2", "path:"),
            ("hdd:1,ssd:-1", "ssd:-1"),
        ] {
            let err = spec.parse::<ThreadsSpec>().unwrap_err().to_string();
            assert!(err.contains(fragment), "{spec}: {err}");
        }
    }

    proptest::proptest! {
        /// Any bytes at all: an error or a spec, never a panic; a spec's decisions stay in the
        /// thread range.
        #[test]
        fn any_bytes_parse_or_are_refused(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Ok(spec) = ThreadsSpec::parse_bytes(&bytes) {
                for kind in DeviceKind::ALL {
                    let d = spec.decide("sda", kind, &[], 2);
                    proptest::prop_assert!((1..=MAX_THREADS).contains(&d.threads));
                }
            }
        }

        /// Specs made of valid rules parse, and print as text that parses to the same spec.
        #[test]
        fn valid_specs_round_trip(rules in proptest::collection::vec(
            (0usize..3, "[a-z][a-z0-9]{0,6}", 0usize..6, 1usize..=1024, proptest::bool::ANY),
            0..6,
        )) {
            let text: Vec<String> = rules
                .iter()
                .map(|(selector, name, kind, threads, by_kind)| {
                    let selector = match selector {
                        0 => DeviceKind::ALL[*kind].to_string(),
                        1 => format!("dev:{name}"),
                        _ => format!("path:/mnt/{name}"),
                    };
                    let value = if *by_kind {
                        DeviceKind::ALL[(kind + 1) % 6].to_string()
                    } else {
                        threads.to_string()
                    };
                    format!("{selector}:{value}")
                })
                .collect();
            let text = text.join(",");
            let spec: ThreadsSpec = text.parse().unwrap();
            proptest::prop_assert_eq!(spec.to_string(), text.clone());
            proptest::prop_assert_eq!(spec.to_string().parse::<ThreadsSpec>().unwrap(), spec);
        }
    }

    #[test]
    fn display_round_trips() {
        let text = "ssd:8,hdd:1,ram:2,dev:sdb:2,path:/mnt/nas:4,network:hdd";
        assert_eq!(text.parse::<ThreadsSpec>().unwrap().to_string(), text);
    }
}
