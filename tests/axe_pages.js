// axe-core on web pages, through axe's own WebDriver integration (@axe-core/webdriverjs) in one
// headless Chromium: `node tests/axe_pages.js URL...` prints one JSON line per page,
// {"url": ..., "violations": [{"id", "impact", "help", "targets"}]}, and exits 0 (the caller judges).
//
// Environment: AXE_MODULES (the node_modules folder holding @axe-core/webdriverjs and
// selenium-webdriver), CHROMEDRIVER, CHROMIUM.
//
// Legacy mode runs axe.run in the page itself, which is right for pages without frames (ours
// have none). The default mode serializes every node axe looked at and finishes the run in a
// second, blank page: on the largest sheets that took twice as long as the checks themselves.
// Only violations are reported with their nodes (axe's resultTypes); passes are not collected.
"use strict";

const path = require("node:path");

const modules = process.env.AXE_MODULES;
const { Builder } = require(path.join(modules, "selenium-webdriver"));
const chrome = require(path.join(modules, "selenium-webdriver", "chrome"));
const { AxeBuilder } = require(path.join(modules, "@axe-core", "webdriverjs"));

async function main(urls) {
  const options = new chrome.Options();
  options.setChromeBinaryPath(process.env.CHROMIUM);
  options.addArguments("no-sandbox", "headless", "disable-gpu", "disable-dev-shm-usage",
    "disable-background-networking", "disable-component-update", "disable-sync", "no-first-run");
  const service = new chrome.ServiceBuilder(process.env.CHROMEDRIVER);
  const driver = await new Builder().forBrowser("chrome").setChromeOptions(options).setChromeService(service).build();
  try {
    for (const url of urls) {
      await driver.get(url);
      const results = await new AxeBuilder(driver).setLegacyMode().options({ resultTypes: ["violations"] }).analyze();
      const violations = results.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")),
      }));
      process.stdout.write(JSON.stringify({ url, violations }) + "\n");
    }
  } finally {
    await driver.quit();
  }
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(2);
});
