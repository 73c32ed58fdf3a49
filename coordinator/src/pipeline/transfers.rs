//! The pipeline's side of zone transfers: the transfer server serves the
//! published versions again after a start, and zones transferred from the
//! hidden primary become requests like any other (AXFR as a whole zone,
//! IXFR as change sets, RFC 1995 §4).

use std::sync::{Arc, Weak};

use frostzone_dnssec::change_set::ChangeSet;
use frostzone_dnssec::load::load_zone_text;
use frostzone_dnssec::name::FqdnDisplay;
use frostzone_proto::v1 as pb;
use tokio::sync::mpsc;

use super::input::Input;
use super::input::Submission;
use super::submit::submit;
use super::BackgroundTask;
use crate::config::transfer::XfrConfig;
use crate::xfr::{Incoming, PrimarySource, Transfer, TransferServer};
use crate::{Coordinator, StartError};

/// Transfers waiting for the pipeline: the primary waits when more come
/// (it folds NOTIFYs meanwhile).
const TRANSFER_BACKLOG: usize = 16;

/// Starts the transfer server (and the primary source, when configured),
/// serves every published version again with its journal, and feeds
/// transfers from the primary into the pipeline. The task stops when the
/// handle is dropped.
pub async fn start(c: &Arc<Coordinator>, config: &XfrConfig) -> Result<BackgroundTask, StartError> {
    let (tx, rx) = mpsc::channel(TRANSFER_BACKLOG);
    let primary = config.primary.clone().map(|p| PrimarySource::new(p, tx));
    let server = Arc::new(TransferServer::start(&config.transfer, primary.clone()).await?);
    for state in c.registry.zone_states()? {
        let Ok((apex, zone)) = crate::keys::zone_name(&state.zone) else { continue };
        // At start-up, before anything is served: read in place.
        let text = match super::published_text(&c.registry, &zone, &apex) {
            Ok(Some((_, text))) => text,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!("{zone}: the published version cannot be read, not served: {e}");
                continue;
            }
        };
        let records = match load_zone_text(&text, std::path::Path::new(&zone), &apex) {
            Ok(r) => r.into_iter().map(|r| r.record).collect(),
            Err(e) => {
                tracing::error!("{zone}: the published version does not read back, not served: {e}");
                continue;
            }
        };
        let journal: Vec<ChangeSet> = c
            .registry
            .zone_journal_newest(&zone, c.pipeline.journal_limit())?
            .iter()
            .filter_map(|t| load_zone_text(t, std::path::Path::new("journal"), &apex).ok())
            .filter_map(|records| ChangeSet::parse(records).ok())
            .flatten()
            .collect();
        let serial = server.restore(apex.clone(), records, journal).await?;
        tracing::info!("{zone}: serving serial {serial} again");
        if let Some(p) = &primary {
            p.set_serial(&apex, Some(state.input_serial));
        }
    }
    c.pipeline.set_transfer(server);
    if let Some(p) = primary {
        for apex in &config.primary.as_ref().map(|p| p.zones.clone()).unwrap_or_default() {
            p.refresh_in_background(apex);
        }
        // Without NOTIFYs the SOA timers (RFC 1034 §4.3.5) still bring changes.
        p.start_timers();
        c.pipeline.set_primary(p);
    }
    Ok(BackgroundTask(tokio::spawn(take_transfers(Arc::downgrade(c), rx))))
}

async fn take_transfers(c: Weak<Coordinator>, mut rx: mpsc::Receiver<Transfer>) {
    while let Some(t) = rx.recv().await {
        let Some(c) = c.upgrade() else { return };
        let zone = FqdnDisplay(&t.zone).to_string();
        let input = match t.incoming {
            Incoming::Full(content) => Input::Content(content),
            Incoming::Changes(sets) => Input::Changes(sets),
        };
        let options = pb::SignZoneOptions { zone: zone.clone(), ..Default::default() };
        let submission = Submission { operator: format!("primary {}", t.primary), options, input };
        match submit(&c, submission, &|_| {}).await {
            Ok(signed) => tracing::info!("{zone}: serial {} from the primary published as serial {}", t.serial, signed.serial),
            Err(e) => {
                tracing::error!("{zone}: serial {} from the primary {} not published: {e}", t.serial, t.primary);
                // Pull again from the serial we hold at the next NOTIFY.
                if let Some(p) = c.pipeline.primary() {
                    let held = c.registry.zone_state(&zone).ok().flatten().map(|s| s.input_serial);
                    p.set_serial(&t.zone, held);
                }
            }
        }
    }
}
