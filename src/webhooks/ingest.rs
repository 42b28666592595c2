//! Group commit for webhook deliveries: many concurrent requests share one flushed transaction,
//! and each is answered only after the transaction that holds it has committed.

use tokio::sync::{mpsc, oneshot};

use crate::store::{NewDelivery, Store, StoreError};

/// Deliveries per transaction at most.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<bool, String>>;

/// A handle to the writer task.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<(NewDelivery, Reply)>,
}

impl Ingest {
    /// Starts the writer. It stops when every handle is dropped.
    pub fn start(store: Store) -> Ingest {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(store, rx));
        Ingest { tx }
    }

    /// Stores a delivery; `Ok(true)` once it is committed, `Ok(false)` for a duplicate.
    pub async fn store(&self, delivery: NewDelivery) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        let closed = || StoreError::Query(sqlx::Error::PoolClosed);
        self.tx
            .send((delivery, reply))
            .await
            .map_err(|_| closed())?;
        match answer.await {
            Ok(Ok(new)) => Ok(new),
            Ok(Err(message)) => Err(StoreError::Query(sqlx::Error::Protocol(message))),
            Err(_) => Err(closed()),
        }
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<(NewDelivery, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Waits for one delivery, then takes whatever else queued up meanwhile: under load the
    // batches grow by themselves, and a lone delivery is never held back.
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (deliveries, replies): (Vec<NewDelivery>, Vec<Reply>) = batch.drain(..).unzip();
        match store.insert_deliveries(&deliveries).await {
            Ok(new) => {
                for (reply, is_new) in replies.into_iter().zip(new) {
                    let _ = reply.send(Ok(is_new));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}
