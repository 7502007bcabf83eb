//! The comparison of two observed environments: pure, values never shown
//! beyond HOME, USER, TMPDIR and PATH entries.

use crate::envprint::keyed_hash;
use crate::redact::is_secret_name;
use std::collections::{BTreeMap, BTreeSet};

use super::*;

pub(super) fn path_entries(env: &Env) -> Vec<String> {
    env.get("PATH")
        .map(|p| p.split(':').map(str::to_string).collect())
        .unwrap_or_default()
}

pub(super) fn missing(from: &[String], present: &[String]) -> Vec<String> {
    let have: BTreeSet<&String> = from.iter().collect();
    let mut out: Vec<String> = Vec::new();
    for entry in present {
        if !have.contains(entry) && !out.contains(entry) {
            out.push(entry.clone());
        }
    }
    out
}

/// Compares two environments. Pure; `key` keys the value hashes.
pub fn diff(a: &Side, b: &Side, key: &[u8; 32]) -> EnvDiff {
    let hash = |v: &str| keyed_hash(key, v.as_bytes());
    let shown_apart =
        |n: &str| n == "PATH" || IDENTITY_VARS.contains(&n) || SHELL_NOISE.contains(&n);
    let only = |x: &Env, y: &Env| -> Vec<VarPresence> {
        x.iter()
            .filter(|(k, _)| !shown_apart(k) && !y.contains_key(*k))
            .map(|(k, v)| VarPresence {
                name: k.clone(),
                secret: is_secret_name(k),
                hash: hash(v),
            })
            .collect()
    };
    let differs = a
        .env
        .iter()
        .filter(|(k, _)| !shown_apart(k))
        .filter_map(|(k, va)| {
            let vb = b.env.get(k).filter(|vb| *vb != va)?;
            Some(VarChange {
                name: k.clone(),
                secret: is_secret_name(k),
                hash_a: hash(va),
                hash_b: hash(vb),
            })
        })
        .collect();
    let (pa, pb) = (path_entries(&a.env), path_entries(&b.env));
    let mut d = EnvDiff {
        a: a.label.clone(),
        b: b.label.clone(),
        only_in_a: only(&a.env, &b.env),
        only_in_b: only(&b.env, &a.env),
        differs,
        path: PathDiff {
            missing_from_a: missing(&pa, &pb),
            missing_from_b: missing(&pb, &pa),
            same: pa == pb,
            a: pa,
            b: pb,
        },
        identity: IDENTITY_VARS
            .iter()
            .map(|n| {
                let (va, vb) = (a.env.get(*n).cloned(), b.env.get(*n).cloned());
                IdentityVar {
                    name: n.to_string(),
                    same: va == vb,
                    a: va,
                    b: vb,
                }
            })
            .collect(),
        resolution: match (&a.resolution, &b.resolution) {
            (Some(ra), Some(rb)) => Some(ResolutionDiff {
                same: ra.path == rb.path
                    && ra.interpreter_path == rb.interpreter_path
                    && ra.error.is_none() == rb.error.is_none(),
                a: ra.clone(),
                b: rb.clone(),
            }),
            _ => None,
        },
        credential_files: file_visibility(&a.credential_files, &b.credential_files),
        groups: super::Groups::default(),
    };
    d.groups = super::group(&d);
    d
}

pub(super) fn file_visibility(
    a: &BTreeMap<String, bool>,
    b: &BTreeMap<String, bool>,
) -> Vec<FileVisibility> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names
        .into_iter()
        .map(|f| FileVisibility {
            file: f.clone(),
            a: a.get(f).copied().unwrap_or(false),
            b: b.get(f).copied().unwrap_or(false),
        })
        .collect()
}
