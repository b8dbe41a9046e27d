//! A real browser for the console's end-to-end tests: Debian's `chromium`,
//! headless, driven over WebDriver by Debian's `chromedriver` (packages
//! `chromium` and `chromium-driver`, which `scripts/test` installs).
//!
//! Each [`Browser`] is its own chromedriver on a free loopback port and its
//! own Chromium with a fresh profile and a 1366×768 window (the operator
//! stations' screen). Chromium is started without the background services
//! that would try to reach the internet (this machine has none).

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub const WIDTH: u32 = 1366;
pub const HEIGHT: u32 = 768;

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn find(name: &str, candidates: &[&str]) -> anyhow::Result<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
        .ok_or_else(|| anyhow!("{name} not found (apt-get install chromium chromium-driver)"))
}

fn free_port() -> anyhow::Result<u16> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(socket.local_addr()?.port())
}

impl Browser {
    pub async fn start() -> anyhow::Result<Browser> {
        let driver_path = match std::env::var("CHROMEDRIVER") {
            Ok(p) => p,
            Err(_) => find("chromedriver", &["/usr/bin/chromedriver"])?,
        };
        let chromium = match std::env::var("CHROMIUM") {
            Ok(p) => p,
            Err(_) => find(
                "chromium",
                &["/usr/bin/chromium", "/usr/lib/chromium/chromium"],
            )?,
        };
        let port = free_port()?;
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {driver_path}"))?;
        let url = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir()?;
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-features=Translate,MediaRouter",
                    // The tests press play from a script.
                    "--autoplay-policy=no-user-gesture-required",
                    "--lang=uk-UA",
                    format!("--window-size={WIDTH},{HEIGHT}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!("a JSON object literal")
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    return Err(anyhow!("chromedriver did not start a session: {e}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        // The viewport, not the window, must be 1366×768 wide/high enough;
        // headless windows have no chrome, so they are the same.
        client.set_window_size(WIDTH, HEIGHT).await?;
        Ok(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Another viewport size (a phone's, say).
    pub async fn resize(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.client.set_window_size(width, height).await?;
        Ok(())
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        Ok(self.client.goto(url).await?)
    }

    /// Clicks the element `selector` finds.
    pub async fn click(&self, selector: &str) -> anyhow::Result<()> {
        self.css(selector).await?.click().await?;
        Ok(())
    }

    pub async fn css(&self, selector: &str) -> anyhow::Result<Element> {
        Ok(self.client.find(Locator::Css(selector)).await?)
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    /// Waits until `script` returns something truthy, and returns it.
    pub async fn until(
        &self,
        what: &str,
        script: &str,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = self.js(script, vec![]).await?;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return Ok(v);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(anyhow!("timed out waiting for {what} (last: {v})"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the element `selector` (`textContent`, trimmed).
    pub async fn text(&self, selector: &str) -> anyhow::Result<String> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
                vec![json!(selector)],
            )
            .await?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no element {selector}"))
    }

    /// Types into the element as a user would (keyboard events).
    pub async fn type_into(&self, selector: &str, text: &str) -> anyhow::Result<()> {
        self.css(selector).await?.send_keys(text).await?;
        Ok(())
    }

    /// Keys sent to whatever has the focus.
    pub async fn keys(&self, text: &str) -> anyhow::Result<()> {
        self.client.active_element().await?.send_keys(text).await?;
        Ok(())
    }

    pub async fn screenshot(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let png = self.client.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}
