//! The import's window of pages in flight: up to `width` pages asked for at
//! once along cursors the connector knows in advance (offset paging), handed
//! out strictly in the order they were asked for, whatever order they come
//! back in. The job commits each page handed out before it looks at the
//! next, so a crash still resumes after the last committed page; memory
//! holds at most `width` pages besides the one being committed.
//!
//! A page asked for ahead is only a guess until the page before it comes
//! back naming the same cursor as its next: [`PageWindow::follow`] drops
//! every guess the listing proves wrong and asks again from the real cursor.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::pin;

use futures_util::StreamExt as _;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::FuturesUnordered;

/// Fetches the page at a cursor (`None`: the first page).
pub type FetchPage<'a, T> = Box<dyn Fn(Option<String>) -> LocalBoxFuture<'a, T> + 'a>;

/// The cursor after a cursor's page, when it is known before that page
/// comes back.
pub type CursorAfter<'a> = Box<dyn Fn(Option<&str>) -> Option<String> + 'a>;

pub struct PageWindow<'a, T> {
    fetch: FetchPage<'a, T>,
    cursor_after: CursorAfter<'a>,
    width: usize,
    /// Pages asked for and not yet handed out, oldest first: (ticket, cursor).
    asked: VecDeque<(u64, Option<String>)>,
    next_ticket: u64,
    in_flight: FuturesUnordered<LocalBoxFuture<'a, (u64, T)>>,
    /// Pages that came back before the pages asked for ahead of them.
    arrived: BTreeMap<u64, T>,
}

impl<'a, T: 'a> PageWindow<'a, T> {
    /// An empty window; `width` is at least 1.
    pub fn new(width: usize, fetch: FetchPage<'a, T>, cursor_after: CursorAfter<'a>) -> Self {
        PageWindow {
            fetch,
            cursor_after,
            width: width.max(1),
            asked: VecDeque::new(),
            next_ticket: 0,
            in_flight: FuturesUnordered::new(),
            arrived: BTreeMap::new(),
        }
    }

    /// Drops whatever is asked for and asks for the page at `cursor`, and
    /// the pages after it as far as they are known and the width allows.
    pub fn ask_from(&mut self, cursor: Option<String>) {
        self.ask_nothing();
        self.ask(cursor);
        self.fill();
    }

    /// The page just handed out names `next` as its next cursor (`None`:
    /// it was the last, or the job stops here). Keeps the pages asked for
    /// ahead when the listing agrees with them, else asks again from `next`.
    pub fn follow(&mut self, next: Option<&str>) {
        match next {
            None => self.ask_nothing(),
            Some(next) if self.asked.front().map(|(_, c)| c.as_deref()) == Some(Some(next)) => {
                self.fill()
            }
            Some(next) => self.ask_from(Some(next.to_string())),
        }
    }

    /// Drops every page asked for.
    pub fn ask_nothing(&mut self) {
        self.asked.clear();
        self.arrived.clear();
        self.in_flight = FuturesUnordered::new();
    }

    /// The oldest page asked for and its cursor, once it has come back
    /// (pages asked for after it keep coming meanwhile); `None` when
    /// nothing is asked for.
    pub async fn next(&mut self) -> Option<(Option<String>, T)> {
        let (ticket, cursor) = self.asked.pop_front()?;
        loop {
            if let Some(page) = self.arrived.remove(&ticket) {
                return Some((cursor, page));
            }
            let (arrived, page) = self
                .in_flight
                .next()
                .await
                .expect("a page asked for and not handed out is in flight or has arrived");
            self.arrived.insert(arrived, page);
        }
    }

    /// Awaits `work` (a page's commit) while the pages in flight keep coming.
    pub async fn while_doing<R>(&mut self, work: impl Future<Output = R>) -> R {
        let mut work = pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                Some((ticket, page)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.arrived.insert(ticket, page);
                }
            }
        }
    }

    fn ask(&mut self, cursor: Option<String>) {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let page = (self.fetch)(cursor.clone());
        self.in_flight
            .push(Box::pin(async move { (ticket, page.await) }));
        self.asked.push_back((ticket, cursor));
    }

    /// Asks for the known pages after the newest one asked for, up to the width.
    fn fill(&mut self) {
        while self.asked.len() < self.width {
            let Some((_, newest)) = self.asked.back() else {
                return;
            };
            let Some(after) = (self.cursor_after)(newest.as_deref()) else {
                return;
            };
            self.ask(Some(after));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    use tokio::sync::oneshot;

    use super::*;

    /// Pages of an offset listing (`"0"`, `"10"`, ...) whose answers the
    /// test releases by hand, in any order.
    #[derive(Default)]
    struct Server {
        asked: RefCell<Vec<Option<String>>>,
        answer: RefCell<HashMap<Option<String>, oneshot::Sender<String>>>,
    }

    impl Server {
        fn release(&self, cursor: Option<&str>) {
            let sender = self
                .answer
                .borrow_mut()
                .remove(&cursor.map(str::to_string))
                .unwrap_or_else(|| panic!("page {cursor:?} was not asked for"));
            sender
                .send(format!("page at {}", cursor.unwrap_or("start")))
                .unwrap();
        }

        fn asked(&self) -> Vec<Option<String>> {
            self.asked.borrow().clone()
        }
    }

    fn window(server: &Rc<Server>, width: usize) -> PageWindow<'static, String> {
        let fetch_server = Rc::clone(server);
        PageWindow::new(
            width,
            Box::new(move |cursor: Option<String>| {
                let (tx, rx) = oneshot::channel();
                fetch_server.asked.borrow_mut().push(cursor.clone());
                fetch_server.answer.borrow_mut().insert(cursor, tx);
                Box::pin(async move { rx.await.unwrap() })
            }),
            Box::new(|cursor: Option<&str>| {
                let offset: u64 = cursor.map_or(0, |c| c.parse().unwrap());
                Some((offset + 10).to_string())
            }),
        )
    }

    fn at(cursor: &str) -> Option<String> {
        Some(cursor.to_string())
    }

    #[tokio::test]
    async fn pages_that_come_back_out_of_order_are_handed_out_in_order() {
        let server = Rc::new(Server::default());
        let mut pages = window(&server, 3);
        pages.ask_from(None);
        assert_eq!(server.asked(), [None, at("10"), at("20")]);

        // The third and second pages come back first, while the commit of
        // an earlier page runs: they wait, and the first page is still owed.
        server.release(Some("20"));
        server.release(Some("10"));
        // Each commit that yields once collects at least one arrival.
        while pages.arrived.len() < 2 {
            pages.while_doing(tokio::task::yield_now()).await;
        }
        assert_eq!(pages.asked.front().map(|(_, c)| c.clone()), Some(None));
        server.release(None);

        let mut handed_out = Vec::new();
        for next in ["10", "20"] {
            let (cursor, page) = pages.next().await.unwrap();
            handed_out.push((cursor, page));
            pages.follow(Some(next));
        }
        let (cursor, page) = pages.next().await.unwrap();
        handed_out.push((cursor, page));
        assert_eq!(
            handed_out,
            [
                (None, "page at start".to_string()),
                (at("10"), "page at 10".to_string()),
                (at("20"), "page at 20".to_string()),
            ]
        );
        // Each page followed as guessed: the window stayed full, never wider.
        assert_eq!(
            server.asked(),
            [None, at("10"), at("20"), at("30"), at("40")]
        );
    }

    #[tokio::test]
    async fn a_next_cursor_that_differs_from_the_guess_drops_the_guesses() {
        let server = Rc::new(Server::default());
        let mut pages = window(&server, 3);
        pages.ask_from(at("0"));
        server.release(Some("20"));
        server.release(Some("0"));
        let (cursor, _) = pages.next().await.unwrap();
        assert_eq!(cursor, at("0"));
        // A short page: the listing goes on at 7, not 10.
        pages.follow(Some("7"));
        assert_eq!(
            server.asked(),
            [at("0"), at("10"), at("20"), at("7"), at("17"), at("27")]
        );
        server.release(Some("17"));
        server.release(Some("7"));
        let (cursor, page) = pages.next().await.unwrap();
        assert_eq!((cursor, page.as_str()), (at("7"), "page at 7"));
        // The last page: nothing more is asked for or handed out.
        pages.follow(None);
        assert_eq!(pages.next().await, None);
        assert_eq!(server.asked().len(), 6);
    }

    #[tokio::test]
    async fn a_width_of_one_asks_for_one_page_at_a_time() {
        let server = Rc::new(Server::default());
        let mut pages = window(&server, 1);
        pages.ask_from(None);
        assert_eq!(server.asked(), [None]);
        server.release(None);
        pages.next().await.unwrap();
        pages.follow(Some("10"));
        assert_eq!(server.asked(), [None, at("10")]);
    }
}
