//! HTTP-level conformance of the built-in server with toxiproxy 2.x: every route, status code and
//! JSON shape, including the error cases, checked both raw (reqwest) and through the typed client.

use std::time::Duration;

use electune::toxiproxy::{
    Client, Error, NewProxy, ProxyUpdate, Stream, Toxic, ToxicAttributes, ToxicType, ToxicUpdate,
};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);

struct Raw {
    http: reqwest::Client,
    base: String,
}

impl Raw {
    fn new(base: &str) -> Raw {
        Raw {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base: base.to_owned(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, format!("{}{}", self.base, path));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }
}

fn err(status: u16, message: &str) -> Value {
    json!({"error": message, "status": status})
}

async fn upstream() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap().to_string();
    (l, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_status_codes_and_shapes() {
    tokio::time::timeout(LIMIT, async {
        let server = electune::proxy::spawn_local().await.unwrap();
        let raw = Raw::new(&server.url());
        let (_up, up) = upstream().await;

        // version
        let (s, v) = raw.call("GET", "/version", None).await;
        assert_eq!(s, 200);
        assert!(v["version"].is_string(), "{v}");

        // create: 201, the address actually bound, enabled, no toxics
        let body = json!({"name": "a", "listen": "127.0.0.1:0", "upstream": up}).to_string();
        let (s, v) = raw.call("POST", "/proxies", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["name"], "a");
        assert_eq!(v["upstream"], up.as_str());
        assert_eq!(v["enabled"], true);
        assert_eq!(v["toxics"], json!([]));
        let listen = v["listen"].as_str().unwrap().to_owned();
        assert!(listen.starts_with("127.0.0.1:") && !listen.ends_with(":0"), "{listen}");
        // the listener is really there
        tokio::net::TcpStream::connect(&listen).await.unwrap();

        // duplicates, missing fields, bad bodies
        let (s, v) = raw.call("POST", "/proxies", Some(&body)).await;
        assert_eq!((s, v), (409, err(409, "proxy already exists")));
        let (s, v) = raw
            .call("POST", "/proxies", Some(r#"{"name":"b","listen":"127.0.0.1:0"}"#))
            .await;
        assert_eq!((s, v), (400, err(400, "missing required field: upstream")));
        let (s, v) = raw
            .call("POST", "/proxies", Some(r#"{"upstream":"127.0.0.1:1"}"#))
            .await;
        assert_eq!((s, v), (400, err(400, "missing required field: name")));
        let (s, v) = raw.call("POST", "/proxies", Some("{nope")).await;
        assert_eq!(s, 400);
        assert!(v["error"].as_str().unwrap().starts_with("bad request body"), "{v}");
        assert_eq!(v["status"], 400);

        // show / unknown
        let (s, v) = raw.call("GET", "/proxies/a", None).await;
        assert_eq!(s, 200);
        assert_eq!(v["listen"], listen.as_str());
        for (m, p) in [
            ("GET", "/proxies/zz"),
            ("DELETE", "/proxies/zz"),
            ("GET", "/proxies/zz/toxics"),
            ("GET", "/proxies/zz/toxics/t"),
            ("DELETE", "/proxies/zz/toxics/t"),
        ] {
            let (s, v) = raw.call(m, p, None).await;
            assert_eq!((s, v), (404, err(404, "proxy not found")), "{m} {p}");
        }
        let (s, v) = raw.call("PATCH", "/proxies/zz", Some("{}")).await;
        assert_eq!((s, v), (404, err(404, "proxy not found")));
        let (s, v) = raw
            .call("POST", "/proxies/zz/toxics", Some(r#"{"type":"latency"}"#))
            .await;
        assert_eq!((s, v), (404, err(404, "proxy not found")));

        // populate: 201 {"proxies": [...]}
        let body = json!([
            {"name": "p1", "listen": "127.0.0.1:0", "upstream": up},
            {"name": "p2", "listen": "127.0.0.1:0", "upstream": up, "enabled": false},
        ])
        .to_string();
        let (s, v) = raw.call("POST", "/populate", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
        let ps = v["proxies"].as_array().unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0]["name"], "p1");
        assert_eq!(ps[0]["enabled"], true);
        assert_eq!(ps[1]["enabled"], false);
        assert_eq!(ps[0]["toxics"], json!([]));
        let (s, v) = raw
            .call("POST", "/populate", Some(r#"[{"name":"x"}]"#))
            .await;
        assert_eq!(
            (s, v),
            (400, err(400, "missing required field: upstream at proxy 1"))
        );
        let (s, _) = raw.call("POST", "/populate", Some(r#"{"name":"x"}"#)).await;
        assert_eq!(s, 400);

        // index: a map by name
        let (s, v) = raw.call("GET", "/proxies", None).await;
        assert_eq!(s, 200);
        let names: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(names, ["a", "p1", "p2"]);
        assert_eq!(v["a"]["name"], "a");

        // toxics: defaults name <type>_<stream>, stream downstream, toxicity 1; create answers 200
        let (s, v) = raw
            .call(
                "POST",
                "/proxies/a/toxics",
                Some(r#"{"type":"latency","attributes":{"latency":50}}"#),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            v,
            json!({"attributes": {"latency": 50, "jitter": 0}, "name": "latency_downstream",
                   "type": "latency", "stream": "downstream", "toxicity": 1})
        );
        let (s, v) = raw
            .call("POST", "/proxies/a/toxics", Some(r#"{"type":"latency"}"#))
            .await;
        assert_eq!((s, v), (409, err(409, "toxic already exists")));
        let (s, v) = raw
            .call("POST", "/proxies/a/toxics", Some(r#"{"type":"nope"}"#))
            .await;
        assert_eq!((s, v), (400, err(400, "invalid toxic type")));
        let (s, v) = raw
            .call(
                "POST",
                "/proxies/a/toxics",
                Some(r#"{"type":"latency","stream":"sideways"}"#),
            )
            .await;
        assert_eq!(
            (s, v),
            (
                400,
                err(400, "stream was invalid, can be either upstream or downstream")
            )
        );
        let (s, v) = raw
            .call(
                "POST",
                "/proxies/a/toxics",
                Some(r#"{"type":"bandwidth","attributes":{"rate":"fast"}}"#),
            )
            .await;
        assert_eq!(s, 400, "{v}");
        let (s, v) = raw
            .call(
                "POST",
                "/proxies/a/toxics",
                Some(r#"{"name":"bw","type":"bandwidth","stream":"upstream","toxicity":0.5,"attributes":{"rate":100}}"#),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(
            v,
            json!({"attributes": {"rate": 100}, "name": "bw", "type": "bandwidth",
                   "stream": "upstream", "toxicity": 0.5})
        );
        // electune extension: fractional milliseconds
        let (s, v) = raw
            .call(
                "POST",
                "/proxies/a/toxics",
                Some(r#"{"name":"fine","type":"latency","attributes":{"latency":0.3,"jitter":0.1}}"#),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(v["attributes"], json!({"latency": 0.3, "jitter": 0.1}));

        // list: upstream first, then downstream, each in the order added
        let (s, v) = raw.call("GET", "/proxies/a/toxics", None).await;
        assert_eq!(s, 200);
        let names: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["bw", "latency_downstream", "fine"]);
        let (s, v) = raw.call("GET", "/proxies/a", None).await;
        assert_eq!((s, v["toxics"].as_array().unwrap().len()), (200, 3));

        // show / update (PATCH partial, POST accepted too) / unknown toxic
        let (s, v) = raw.call("GET", "/proxies/a/toxics/bw", None).await;
        assert_eq!((s, &v["attributes"]["rate"]), (200, &json!(100)));
        let (s, v) = raw.call("GET", "/proxies/a/toxics/zz", None).await;
        assert_eq!((s, v), (404, err(404, "toxic not found")));
        let (s, v) = raw
            .call(
                "PATCH",
                "/proxies/a/toxics/latency_downstream",
                Some(r#"{"attributes":{"jitter":3}}"#),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(v["attributes"], json!({"latency": 50, "jitter": 3}));
        assert_eq!(v["toxicity"], 1);
        let (s, v) = raw
            .call(
                "POST",
                "/proxies/a/toxics/latency_downstream",
                Some(r#"{"toxicity":0.25}"#),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(v["toxicity"], 0.25);
        assert_eq!(v["attributes"], json!({"latency": 50, "jitter": 3}));
        let (s, v) = raw
            .call("PATCH", "/proxies/a/toxics/zz", Some("{}"))
            .await;
        assert_eq!((s, v), (404, err(404, "toxic not found")));
        let (s, _) = raw
            .call("PATCH", "/proxies/a/toxics/bw", Some(r#"{"attributes":{"rate":1.5}}"#))
            .await;
        assert_eq!(s, 400);

        // delete toxic
        let (s, v) = raw.call("DELETE", "/proxies/a/toxics/fine", None).await;
        assert_eq!((s, v), (204, Value::Null));
        let (s, v) = raw.call("DELETE", "/proxies/a/toxics/fine", None).await;
        assert_eq!((s, v), (404, err(404, "toxic not found")));

        // proxy update: disable closes the listener, enable reopens it on the same address
        let (s, v) = raw
            .call("PATCH", "/proxies/a", Some(r#"{"enabled":false}"#))
            .await;
        assert_eq!(s, 200);
        assert_eq!(v["enabled"], false);
        assert_eq!(v["toxics"].as_array().unwrap().len(), 2);
        assert!(tokio::net::TcpStream::connect(&listen).await.is_err());
        let (s, v) = raw
            .call("POST", "/proxies/a", Some(r#"{"enabled":true}"#))
            .await;
        assert_eq!((s, &v["enabled"]), (200, &json!(true)));
        assert_eq!(v["listen"], listen.as_str());
        tokio::net::TcpStream::connect(&listen).await.unwrap();
        let (s, _) = raw.call("PATCH", "/proxies/a", Some("[")).await;
        assert_eq!(s, 400);

        // reset: every proxy enabled, every toxic gone; 204
        raw.call("PATCH", "/proxies/a", Some(r#"{"enabled":false}"#))
            .await;
        let (s, v) = raw.call("POST", "/reset", None).await;
        assert_eq!((s, v), (204, Value::Null));
        let (_, v) = raw.call("GET", "/proxies", None).await;
        for (_, p) in v.as_object().unwrap() {
            assert_eq!(p["enabled"], true, "{p}");
            assert_eq!(p["toxics"], json!([]), "{p}");
        }

        // delete proxy: 204, then gone, listener closed
        let (s, v) = raw.call("DELETE", "/proxies/a", None).await;
        assert_eq!((s, v), (204, Value::Null));
        let (s, _) = raw.call("GET", "/proxies/a", None).await;
        assert_eq!(s, 404);
        assert!(tokio::net::TcpStream::connect(&listen).await.is_err());

        // browsers are refused, as toxiproxy does
        let resp = raw
            .http
            .get(format!("{}/proxies", server.url()))
            .header("user-agent", "Mozilla/5.0")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 403);

        server.shutdown().await;
    })
    .await
    .expect("the test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_client_round_trip_and_errors() {
    tokio::time::timeout(LIMIT, async {
        let server = electune::proxy::spawn_local().await.unwrap();
        let c = Client::new(&server.url()).unwrap();
        let bare = Client::new(server.url().trim_start_matches("http://")).unwrap();
        let (_up, up) = upstream().await;

        assert!(c.version().await.unwrap().version.starts_with("electune-"));
        assert!(bare.proxies().await.unwrap().is_empty());

        let p = c
            .create_proxy(&NewProxy::new("n1", "127.0.0.1:0", up.clone()))
            .await
            .unwrap();
        assert!(p.enabled);
        assert_ne!(p.listen, "127.0.0.1:0");
        match c
            .create_proxy(&NewProxy::new("n1", "127.0.0.1:0", up.clone()))
            .await
        {
            Err(Error::Status { status, message }) => {
                assert_eq!((status, message.as_str()), (409, "proxy already exists"))
            }
            other => panic!("{other:?}"),
        }
        match c.proxy("nope").await {
            Err(Error::Status {
                status: 404,
                message,
            }) => assert_eq!(message, "proxy not found"),
            other => panic!("{other:?}"),
        }

        let got = c
            .populate(&[
                NewProxy::new("n2", "127.0.0.1:0", up.clone()),
                NewProxy::new("n3", "127.0.0.1:0", up.clone()),
            ])
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            c.proxies()
                .await
                .unwrap()
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["n1", "n2", "n3"]
        );

        let t = c
            .create_toxic("n1", &Toxic::latency("", Stream::Upstream, 0.3, 0.1))
            .await
            .unwrap();
        assert_eq!(t.name, "latency_upstream");
        assert_eq!(t.r#type, ToxicType::Latency);
        assert_eq!(
            t.attributes,
            ToxicAttributes::Latency {
                latency: 0.3,
                jitter: 0.1
            }
        );
        let all = [
            ToxicAttributes::Bandwidth { rate: 10 },
            ToxicAttributes::SlowClose { delay: 10 },
            ToxicAttributes::Timeout { timeout: 10 },
            ToxicAttributes::ResetPeer { timeout: 10 },
            ToxicAttributes::Slicer {
                average_size: 10,
                size_variation: 2,
                delay: 10,
            },
            ToxicAttributes::LimitData { bytes: 10 },
        ];
        for a in all {
            let name = format!("t_{}", a.toxic_type());
            let want = Toxic::new(name.clone(), Stream::Downstream, a).with_toxicity(0.5);
            assert_eq!(c.create_toxic("n2", &want).await.unwrap(), want);
            assert_eq!(c.toxic("n2", &name).await.unwrap(), want);
        }
        assert_eq!(c.toxics("n2").await.unwrap().len(), 6);
        let mut bad = Toxic::latency("x", Stream::Upstream, 1.0, 0.0);
        bad.r#type = ToxicType::Bandwidth;
        assert!(matches!(
            c.create_toxic("n1", &bad).await,
            Err(Error::Invalid(_))
        ));

        let upd = c
            .update_toxic(
                "n1",
                "latency_upstream",
                &ToxicUpdate {
                    toxicity: Some(0.5),
                    attributes: Some(ToxicAttributes::Latency {
                        latency: 15.0,
                        jitter: 0.0,
                    }),
                },
            )
            .await
            .unwrap();
        assert_eq!(upd.toxicity, 0.5);
        assert_eq!(
            upd.attributes,
            ToxicAttributes::Latency {
                latency: 15.0,
                jitter: 0.0
            }
        );
        match c.update_toxic("n1", "zz", &ToxicUpdate::default()).await {
            Err(Error::Status {
                status: 404,
                message,
            }) => assert_eq!(message, "toxic not found"),
            other => panic!("{other:?}"),
        }
        c.delete_toxic("n1", "latency_upstream").await.unwrap();
        assert!(matches!(
            c.delete_toxic("n1", "latency_upstream").await,
            Err(Error::Status { status: 404, .. })
        ));

        let p = c
            .update_proxy("n1", &ProxyUpdate::enabled(false))
            .await
            .unwrap();
        assert!(!p.enabled);
        assert!(!c.proxy("n1").await.unwrap().enabled);
        c.reset().await.unwrap();
        assert!(c.proxy("n1").await.unwrap().enabled);
        assert!(c.toxics("n2").await.unwrap().is_empty());

        c.delete_proxy("n3").await.unwrap();
        assert!(matches!(
            c.delete_proxy("n3").await,
            Err(Error::Status { status: 404, .. })
        ));
        assert!(matches!(c.proxy("a/b").await, Err(Error::Invalid(_))));

        server.shutdown().await;
        // a dead server is a transport error, not silence
        assert!(matches!(c.proxies().await, Err(Error::Transport { .. })));
    })
    .await
    .expect("the test finished in time");
}

/// An error answer: the status, and a body in toxiproxy's `{"error": message, "status": code}`
/// shape with the same code.
fn assert_api_error(status: u16, body: &Value, want: u16, what: &str) {
    assert_eq!(status, want, "{what}: {body}");
    assert!(body["error"].is_string(), "{what}: not JSON-shaped: {body}");
    assert_eq!(body["status"], want, "{what}: {body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{what}: {body}");
}

/// Echoes on a loopback listener until the task is dropped with the runtime.
async fn echo_upstream() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn echo_once(listen: &str) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(listen).await?;
    s.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .map_err(|_| std::io::Error::other("no echo within 5 s"))??;
    assert_eq!(&buf, b"ping");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_the_data_plane_cannot_honour_are_refused() {
    tokio::time::timeout(LIMIT, async {
        let server = electune::proxy::spawn_local().await.unwrap();
        let raw = Raw::new(&server.url());
        let up = echo_upstream().await;
        let body = json!({"name": "p", "listen": "127.0.0.1:0", "upstream": up}).to_string();
        let (s, v) = raw.call("POST", "/proxies", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
        let listen = v["listen"].as_str().unwrap().to_owned();

        for (attrs, what) in [
            (json!({"latency": 1e30}), "1e30 ms"),
            (json!({"latency": 1.5e22}), "1.5e22 ms"),
            (json!({"latency": 1, "jitter": 1e300}), "jitter 1e300"),
            (json!({"latency": -5}), "negative latency"),
            (json!({"latency": "5"}), "a string"),
            (json!([1, 2]), "an array for the attributes"),
        ] {
            let t = json!({"type": "latency", "attributes": attrs}).to_string();
            let (s, v) = raw.call("POST", "/proxies/p/toxics", Some(&t)).await;
            assert_api_error(s, &v, 400, what);
            assert!(
                v["error"].as_str().unwrap().starts_with("bad request body"),
                "{what}: {v}"
            );
        }
        let t = json!({"type": "bandwidth", "attributes": {"rate": 2.5}}).to_string();
        let (s, v) = raw.call("POST", "/proxies/p/toxics", Some(&t)).await;
        assert_api_error(s, &v, 400, "fractional rate");

        // Nothing was added, and an update cannot smuggle the same values in.
        let (s, v) = raw.call("GET", "/proxies/p/toxics", None).await;
        assert_eq!((s, v), (200, json!([])));
        let t = json!({"name": "l", "type": "latency", "attributes": {"latency": 1}}).to_string();
        let (s, v) = raw.call("POST", "/proxies/p/toxics", Some(&t)).await;
        assert_eq!(s, 200, "{v}");
        for patch in [
            json!({"attributes": {"latency": 1e30}}),
            json!({"attributes": [1, 2]}),
            json!({"toxicity": "x"}),
        ] {
            let (s, v) = raw
                .call("PATCH", "/proxies/p/toxics/l", Some(&patch.to_string()))
                .await;
            assert_api_error(s, &v, 400, &patch.to_string());
        }
        let (s, v) = raw.call("GET", "/proxies/p/toxics/l", None).await;
        assert_eq!(s, 200);
        assert_eq!(v["attributes"], json!({"latency": 1, "jitter": 0}));
        // The connection task is alive: data flows through the 1 ms toxic.
        echo_once(&listen).await.unwrap();
        server.shutdown().await;
    })
    .await
    .expect("the test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_in_toxiproxys_json_shape() {
    tokio::time::timeout(LIMIT, async {
        let server = electune::proxy::spawn_local().await.unwrap();
        let raw = Raw::new(&server.url());
        let (s, v) = raw.call("GET", "/nope", None).await;
        assert_api_error(s, &v, 404, "unknown route");
        let (s, v) = raw.call("GET", "/proxies/a/b/c/d", None).await;
        assert_api_error(s, &v, 404, "unknown nested route");
        let (s, v) = raw.call("DELETE", "/version", None).await;
        assert_api_error(s, &v, 405, "wrong method");
        let (s, v) = raw.call("PUT", "/proxies", Some("{}")).await;
        assert_api_error(s, &v, 405, "wrong method on /proxies");
        let big = format!(
            r#"{{"name":"{}","upstream":"127.0.0.1:1"}}"#,
            "x".repeat(3 << 20)
        );
        let (s, v) = raw.call("POST", "/proxies", Some(&big)).await;
        assert_api_error(s, &v, 413, "body over the limit");
        let (s, v) = raw.call("GET", "/proxies/%FF%FE", None).await;
        assert_api_error(s, &v, 400, "a path that is not UTF-8");
        let resp = raw
            .http
            .post(format!("{}/proxies", server.url()))
            .body(b"{\"name\":\"\xff\xfe\",\"upstream\":\"127.0.0.1:1\"}".to_vec())
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        let v: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
        assert_api_error(s, &v, 400, "a body that is not UTF-8");
        let resp = raw
            .http
            .get(format!("{}/proxies", server.url()))
            .header("user-agent", "Mozilla/5.0")
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        let v: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
        assert_api_error(s, &v, 403, "a browser");
        // The server still serves.
        let (s, _) = raw.call("GET", "/version", None).await;
        assert_eq!(s, 200);
        server.shutdown().await;
    })
    .await
    .expect("the test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_could_not_be_fetched_are_refused_at_creation() {
    tokio::time::timeout(LIMIT, async {
        let server = electune::proxy::spawn_local().await.unwrap();
        let raw = Raw::new(&server.url());
        let long = "n".repeat(100_000);
        for name in [long.as_str(), "a/b", "..", ".", "tab\there"] {
            let body = json!({"name": name, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"})
                .to_string();
            let (s, v) = raw.call("POST", "/proxies", Some(&body)).await;
            assert_api_error(s, &v, 400, &format!("proxy name of {} bytes", name.len()));
            let populate = json!([{"name": name, "upstream": "127.0.0.1:1"}]).to_string();
            let (s, v) = raw.call("POST", "/populate", Some(&populate)).await;
            assert_api_error(s, &v, 400, "populate");
        }
        let (s, v) = raw.call("GET", "/proxies", None).await;
        assert_eq!((s, v), (200, json!({})));

        // The longest name allowed can be created, fetched and deleted.
        let name = "n".repeat(255);
        let body =
            json!({"name": name, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}).to_string();
        let (s, v) = raw.call("POST", "/proxies", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
        let t = json!({"name": "x/y", "type": "latency"}).to_string();
        let (s, v) = raw
            .call("POST", &format!("/proxies/{name}/toxics"), Some(&t))
            .await;
        assert_api_error(s, &v, 400, "toxic name with a slash");
        let (s, _) = raw.call("GET", &format!("/proxies/{name}"), None).await;
        assert_eq!(s, 200);
        let (s, _) = raw.call("DELETE", &format!("/proxies/{name}"), None).await;
        assert_eq!(s, 204);
        server.shutdown().await;
    })
    .await
    .expect("the test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patching_listen_to_a_busy_port_keeps_the_proxy_as_it_was() {
    tokio::time::timeout(LIMIT, async {
        let server = electune::proxy::spawn_local().await.unwrap();
        let raw = Raw::new(&server.url());
        let up = echo_upstream().await;
        let body = json!({"name": "p", "listen": "127.0.0.1:0", "upstream": up}).to_string();
        let (s, v) = raw.call("POST", "/proxies", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
        let listen = v["listen"].as_str().unwrap().to_owned();
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy_addr = busy.local_addr().unwrap().to_string();

        let patch = json!({"listen": busy_addr}).to_string();
        let (s, v) = raw.call("PATCH", "/proxies/p", Some(&patch)).await;
        assert_api_error(s, &v, 500, "listen on a busy port");
        assert!(
            v["error"].as_str().unwrap().contains(&busy_addr),
            "the error names the address: {v}"
        );
        let (s, v) = raw.call("GET", "/proxies/p", None).await;
        assert_eq!(s, 200);
        assert_eq!(v["enabled"], true, "{v}");
        assert_eq!(v["listen"], listen.as_str(), "{v}");
        echo_once(&listen).await.unwrap();

        // The same address spelt another way is no change (toxiproxy's Proxy.Differs resolves).
        let port = listen.rsplit_once(':').unwrap().1;
        let patch = json!({"listen": format!("localhost:{port}")}).to_string();
        let (s, v) = raw.call("PATCH", "/proxies/p", Some(&patch)).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (&v["listen"], &v["enabled"]),
            (&json!(listen), &json!(true))
        );
        echo_once(&listen).await.unwrap();

        // Moving to a free port still works, and the old address is let go.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let free_addr = free.local_addr().unwrap().to_string();
        drop(free);
        let patch = json!({"listen": free_addr}).to_string();
        let (s, v) = raw.call("PATCH", "/proxies/p", Some(&patch)).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["listen"], free_addr.as_str());
        echo_once(&free_addr).await.unwrap();
        assert!(tokio::net::TcpStream::connect(&listen).await.is_err());
        drop(busy);
        server.shutdown().await;
    })
    .await
    .expect("the test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_takes_exactly_what_toxiproxy_takes() {
    tokio::time::timeout(LIMIT, async {
        let extended = electune::proxy::spawn_local().await.unwrap();
        let strict = electune::proxy::spawn_local_with(electune::proxy::Compat::Strict)
            .await
            .unwrap();
        let (_, v) = Raw::new(&extended.url())
            .call("GET", "/version", None)
            .await;
        assert_eq!(v["capabilities"], json!(["fractional-ms"]), "{v}");
        let raw = Raw::new(&strict.url());
        let (_, v) = raw.call("GET", "/version", None).await;
        assert!(v.get("capabilities").is_none(), "{v}");

        let body =
            json!({"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}).to_string();
        let (s, _) = raw.call("POST", "/proxies", Some(&body)).await;
        assert_eq!(s, 201);
        // The message electune users saw from Shopify's toxiproxy.
        let t = json!({"type": "latency", "attributes": {"latency": 0.2}}).to_string();
        let (s, v) = raw.call("POST", "/proxies/p/toxics", Some(&t)).await;
        assert_eq!(
            (s, v),
            (
                400,
                err(
                    400,
                    "bad request body: json: cannot unmarshal number 0.2 into Go struct field \
                     LatencyToxic.attributes.latency of type int64"
                )
            )
        );
        for (ty, attrs) in [
            ("latency", json!({"jitter": 1.0})),
            ("latency", json!({"latency": 1e30})),
            ("latency", json!({"latency": 9223372036854775808u64})),
            ("bandwidth", json!({"rate": "1"})),
            ("slicer", json!({"average_size": true})),
            ("limit_data", json!({"bytes": {}})),
            ("timeout", json!([5])),
        ] {
            let t = json!({"type": ty, "attributes": attrs}).to_string();
            let (s, v) = raw.call("POST", "/proxies/p/toxics", Some(&t)).await;
            assert_api_error(s, &v, 400, &t);
            assert!(
                v["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("bad request body: json: cannot unmarshal "),
                "{t}: {v}"
            );
        }
        // What toxiproxy accepts: 64-bit integers, negative ones included, unknown fields
        // ignored, and a float toxicity.
        let t = json!({"type": "latency", "toxicity": 0.5,
                       "attributes": {"latency": 9223372036854775807i64, "jitter": -1, "x": 1.5}})
        .to_string();
        let (s, v) = raw.call("POST", "/proxies/p/toxics", Some(&t)).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["attributes"]["jitter"], -1);
        let (s, v) = raw
            .call(
                "PATCH",
                "/proxies/p/toxics/latency_downstream",
                Some(r#"{"attributes":{"latency":0.5}}"#),
            )
            .await;
        assert_api_error(s, &v, 400, "strict update");
        strict.shutdown().await;
        extended.shutdown().await;
    })
    .await
    .expect("the test finished in time");
}

/// Random and mutated bodies for every route that reads one, and random methods and paths, a
/// bounded number of times: the server never fails to answer, every 4xx/5xx is
/// `{"error", "status"}` with the same status, every toxic it accepts has attributes the data
/// plane honours (numbers from 0 to i64::MAX; 64-bit integers in strict mode) and came from an
/// attributes object, and data flows once the toxics are removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_bodies_get_answers_in_toxiproxys_shape() {
    use rand::{Rng, SeedableRng};
    const ROUNDS: usize = 600;
    tokio::time::timeout(Duration::from_secs(60), async {
        for compat in [
            electune::proxy::Compat::Extended,
            electune::proxy::Compat::Strict,
        ] {
            let server = electune::proxy::spawn_local_with(compat).await.unwrap();
            let raw = Raw::new(&server.url());
            let up = echo_upstream().await;
            let body = json!({"name": "f", "listen": "127.0.0.1:0", "upstream": up}).to_string();
            let (s, v) = raw.call("POST", "/proxies", Some(&body)).await;
            assert_eq!(s, 201, "{v}");
            let listen = v["listen"].as_str().unwrap().to_owned();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
            let (mut accepted, mut refused) = (0usize, 0usize);
            let numbers = [
                json!(0),
                json!(1),
                json!(-1),
                json!(0.3),
                json!(1e30),
                json!(1.5e22),
                json!(-1e300),
                json!(9223372036854775807i64),
                json!(18446744073709551615u64),
                json!(null),
                json!("7"),
                json!(true),
                json!([1, 2]),
                json!({"a": 1}),
            ];
            let keys = [
                "latency",
                "jitter",
                "rate",
                "delay",
                "timeout",
                "bytes",
                "average_size",
                "size_variation",
            ];
            let types = [
                "latency",
                "bandwidth",
                "slow_close",
                "timeout",
                "reset_peer",
                "slicer",
                "limit_data",
                "nope",
            ];
            for i in 0..ROUNDS {
                let pick = |rng: &mut rand_chacha::ChaCha8Rng| {
                    numbers[rng.gen_range(0..numbers.len())].clone()
                };
                let mut attrs = serde_json::Map::new();
                for _ in 0..rng.gen_range(0..4) {
                    attrs.insert(keys[rng.gen_range(0..keys.len())].into(), pick(&mut rng));
                }
                let attributes = if rng.gen_bool(0.1) {
                    pick(&mut rng)
                } else {
                    Value::Object(attrs)
                };
                let mut toxic = json!({
                    "name": format!("t{i}"),
                    "type": types[rng.gen_range(0..types.len())],
                    "stream": if rng.gen_bool(0.5) { "upstream" } else { "downstream" },
                    "attributes": attributes,
                });
                if rng.gen_bool(0.3) {
                    toxic["toxicity"] = pick(&mut rng);
                }
                let mut text = toxic.to_string().into_bytes();
                // Byte-level mutations on some bodies.
                if rng.gen_bool(0.2) && !text.is_empty() {
                    for _ in 0..rng.gen_range(1..4) {
                        let at = rng.gen_range(0..text.len());
                        match rng.gen_range(0..3) {
                            0 => text[at] = rng.gen(),
                            1 => {
                                text.remove(at);
                            }
                            _ => text.insert(at, b"{}[],:\"0e.-"[rng.gen_range(0..11)]),
                        }
                    }
                }
                let text = String::from_utf8_lossy(&text).into_owned();
                if rng.gen_bool(0.1) {
                    let method =
                        ["GET", "PUT", "DELETE", "OPTIONS", "PATCH", "POST"][rng.gen_range(0..6)];
                    let path = [
                        "/",
                        "/proxies/f/x/y",
                        "/version",
                        "/reset/x",
                        "/proxies/%FF",
                        "/proxies/f/toxics/t0/z",
                        "/populate/x",
                    ][rng.gen_range(0..7)];
                    let (s, v) = raw.call(method, path, Some(&text)).await;
                    assert!(s >= 400, "{method} {path}: {s} {v}");
                    assert_api_error(s, &v, s, &format!("{method} {path}"));
                    continue;
                }
                let (method, path) = match rng.gen_range(0..4) {
                    0 | 1 => ("POST", "/proxies/f/toxics".to_owned()),
                    2 => (
                        "PATCH",
                        format!("/proxies/f/toxics/t{}", rng.gen_range(0..=i)),
                    ),
                    _ => ("PATCH", "/proxies/f".to_owned()),
                };
                if path == "/proxies/f" {
                    // Keep the proxy where it is; fuzz only `enabled` and garbage fields.
                    let patch = json!({"enabled": true, "x": pick(&mut rng)}).to_string();
                    let (s, v) = raw.call(method, &path, Some(&patch)).await;
                    assert_eq!(s, 200, "{patch}: {v}");
                    continue;
                }
                let (s, v) = raw.call(method, &path, Some(&text)).await;
                if s >= 400 {
                    refused += 1;
                    assert_api_error(s, &v, s, &format!("{method} {path} {text}"));
                } else {
                    accepted += 1;
                    assert_eq!(s, 200, "{method} {path} {text}: {v}");
                    let sent: Value = serde_json::from_str(&text).unwrap();
                    assert!(
                        matches!(
                            sent.get("attributes"),
                            None | Some(Value::Null | Value::Object(_))
                        ),
                        "accepted attributes that are not an object: {text}: {v}"
                    );
                    for (k, a) in v["attributes"].as_object().unwrap() {
                        let honoured = match compat {
                            electune::proxy::Compat::Strict => a.as_i64().is_some(),
                            _ => a
                                .as_f64()
                                .is_some_and(|x| (0.0..=i64::MAX as f64).contains(&x)),
                        };
                        assert!(honoured, "accepted {k} = {a}: {text}: {v}");
                    }
                }
                if i % 50 == 49 {
                    // Remove every toxic so that data can flow, then check it does.
                    let (_, list) = raw.call("GET", "/proxies/f/toxics", None).await;
                    for t in list.as_array().unwrap() {
                        let name = t["name"].as_str().unwrap();
                        let (s, _) = raw
                            .call("DELETE", &format!("/proxies/f/toxics/{name}"), None)
                            .await;
                        assert_eq!(s, 204);
                    }
                    echo_once(&listen).await.unwrap();
                }
            }
            // The rounds exercised both sides.
            assert!(
                accepted >= 30 && refused >= 30,
                "{accepted} accepted, {refused} refused"
            );
            server.shutdown().await;
        }
    })
    .await
    .expect("the fuzz rounds finished in time");
}
