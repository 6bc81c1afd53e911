//! Checks of `tars-api`'s parsers: manifests and schedules.
//!
//! Each function takes the fuzzer's bytes and returns `Err` with a description when a property
//! is violated; a panic inside tars is a violation too (the fuzzer and the replay test both
//! catch it).

use jiff::Timestamp;
use tars_api::{Error, Manifest, Schedule, validate};

/// How many upcoming instants of a parsed schedule are checked.
const UPCOMING: usize = 6;

/// The instant schedules are read from when the input names none: 2026-01-01T00:00:00Z.
const DEFAULT_AFTER_SECONDS: i64 = 1_767_225_600;

/// Parses `data` as a YAML manifest stream (and as one JSON manifest when it is UTF-8) and
/// validates what parses.
///
/// Properties: every refusal is `Error::Invalid` with a non-empty field path; a stream that
/// validates survives a JSON round trip (serialize, [`Manifest::from_json`]) unchanged and still
/// validates.
pub fn manifest(data: &[u8]) -> Result<(), String> {
    if let Some(manifests) = refused_as_invalid("YAML", Manifest::from_yaml_bytes(data))? {
        validated_round_trip(&manifests)?;
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(one) = refused_as_invalid("JSON", Manifest::from_json(text))?
    {
        validated_round_trip(&[one])?;
    }
    Ok(())
}

/// Validates `manifests`; if they are valid, checks their JSON round trip.
fn validated_round_trip(manifests: &[Manifest]) -> Result<(), String> {
    match refused_as_invalid("validation", validate::manifests(manifests))? {
        Some(()) => json_round_trip(manifests),
        None => Ok(()),
    }
}

/// `Ok(Some(value))` when accepted, `Ok(None)` when refused as it should be (`Invalid` naming a
/// field), `Err` for any other refusal.
fn refused_as_invalid<T>(step: &str, result: Result<T, Error>) -> Result<Option<T>, String> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Error::Invalid { field, .. }) if !field.is_empty() => Ok(None),
        Err(other) => Err(format!(
            "{step} refused with something else than Invalid naming a field: {other:?}"
        )),
    }
}

fn json_round_trip(manifests: &[Manifest]) -> Result<(), String> {
    let mut back = Vec::with_capacity(manifests.len());
    for manifest in manifests {
        let json = serde_json::to_string(manifest)
            .map_err(|e| format!("a valid manifest does not serialize: {e}: {manifest:?}"))?;
        let read = Manifest::from_json(&json)
            .map_err(|e| format!("a valid manifest's JSON does not read back: {e}: {json}"))?;
        if read != *manifest {
            return Err(format!(
                "JSON round trip changed a valid manifest:\n{manifest:?}\nbecame\n{read:?}"
            ));
        }
        back.push(read);
    }
    validate::manifests(&back)
        .map_err(|e| format!("a valid manifest is refused after a JSON round trip: {e}"))
}

/// Reads `data` as up to three lines: a schedule expression, a time zone (none when the line is
/// empty or missing) and the instant to start from in seconds since the epoch (2026-01-01 when
/// missing or unreadable). If the schedule parses, takes its upcoming instants.
///
/// Properties: every instant is strictly after the one before (the first strictly after the
/// start); [`Schedule::next_after`] agrees with the first; and starting again from any returned
/// instant gives the one that followed it.
pub fn schedule(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let expr = lines.next().unwrap_or_default();
    let time_zone = lines.next().map(str::trim).filter(|tz| !tz.is_empty());
    let after = lines
        .next()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| Timestamp::from_second(s).ok())
        .unwrap_or_else(default_after);
    let Ok(schedule) = Schedule::parse(expr, time_zone) else {
        return Ok(());
    };
    let times: Vec<Timestamp> = schedule.upcoming(after).take(UPCOMING).collect();
    let mut last = after;
    for (i, &at) in times.iter().enumerate() {
        if at <= last {
            return Err(format!(
                "{expr:?} in {time_zone:?} from {after}: instant {i} ({at}) is not after {last}"
            ));
        }
        last = at;
    }
    if schedule.next_after(after) != times.first().copied() {
        return Err(format!(
            "{expr:?} in {time_zone:?}: next_after({after}) is {:?}, upcoming starts at {:?}",
            schedule.next_after(after),
            times.first()
        ));
    }
    for pair in times.windows(2) {
        let resumed = schedule.next_after(pair[0]);
        if resumed != Some(pair[1]) {
            return Err(format!(
                "{expr:?} in {time_zone:?}: after {} comes {}, but resuming there gives {resumed:?}",
                pair[0], pair[1]
            ));
        }
    }
    Ok(())
}

fn default_after() -> Timestamp {
    Timestamp::from_second(DEFAULT_AFTER_SECONDS).unwrap_or(Timestamp::UNIX_EPOCH)
}
