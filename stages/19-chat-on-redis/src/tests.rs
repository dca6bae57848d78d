//! The tests of `main.rs`.

use super::*;

#[test]
fn the_soft_limit_on_open_files() {
    let limits = "\
Limit                     Soft Limit           Hard Limit           Units     
Max processes             127533               127533               processes 
Max open files            1024                 524288               files     
Max locked memory         8388608              8388608              bytes     
";
    assert_eq!(open_files_limit(limits), Some(1024));
    let unlimited = "Max open files            unlimited            unlimited            files";
    assert_eq!(open_files_limit(unlimited), None);
    assert_eq!(open_files_limit(""), None);
}

/// Each client costs its two tasks, always in memory: with 10,000 clients,
/// every KiB in them is 10 MB. (A 4 KiB array held across an `.await` once
/// made the reader task 4.4 KiB.)
#[tokio::test]
async fn a_clients_tasks_are_small() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let _client = TcpStream::connect(address).await.unwrap();
    let (socket, _) = listener.accept().await.unwrap();
    let (read_half, write_half) = socket.into_split();
    let hub = Arc::new(Hub::new(Store::new("redis://127.0.0.1:6379").unwrap()));
    let (id, outbox) = hub.register();
    let writer = outbox::write_outbox(Arc::new(write_half), outbox);
    assert!(std::mem::size_of_val(&writer) < 512);
    let shutdown = Shutdown::new();
    let mut notice = shutdown.notice();
    let reader = handle_client(read_half, hub, id, tokio::spawn(writer), &mut notice);
    assert!(std::mem::size_of_val(&reader) < 1024);
}
