//! The bench's clients on one mio poll: each socket readable in turn is
//! read until empty, every datagram handed to the phase that waits.

use std::io;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};

use crate::client::{Client, FIRST_SPI};

pub struct Fleet {
    poll: Poll,
    events: Events,
    pub clients: Vec<Client>,
    buf: Vec<u8>,
}

impl Fleet {
    /// `n` clients, each on its own socket (in the thread's namespace).
    pub fn new(n: u32) -> io::Result<Fleet> {
        let poll = Poll::new()?;
        let mut clients = Vec::with_capacity(n as usize);
        for i in 0..n {
            let mut c = Client::new(FIRST_SPI + i)?;
            poll.registry()
                .register(&mut c.socket, Token(i as usize), Interest::READABLE)?;
            clients.push(c);
        }
        Ok(Fleet {
            poll,
            events: Events::with_capacity(1024),
            clients,
            buf: vec![0u8; 2048],
        })
    }

    /// Waits up to `wait` for datagrams and hands each to `on(client, bytes)`.
    pub fn receive(&mut self, wait: Duration, mut on: impl FnMut(&mut Client, &mut [u8])) {
        if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("poll: {e}");
            }
            return;
        }
        for event in &self.events {
            let Some(client) = self.clients.get_mut(event.token().0) else {
                continue;
            };
            // Edge-triggered: read until the socket is empty.
            while let Ok(n) = client.socket.recv(&mut self.buf) {
                on(client, &mut self.buf[..n]);
            }
        }
    }
}
