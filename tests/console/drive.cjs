// Drives the web console in Debian's headless Chromium, as a user would,
// for tests/console.rs (which starts the worker and the database, passes
// what to type, and checks the topic and REST state afterwards).
//
//   node tests/console/drive.cjs SCENARIO.json
//
// SCENARIO.json: {"url", "out" (screenshot folder), "name", "plugin",
//   "config" (the MySQL connector's settings to type), "bad_key",
//   "bad_value" (typed first, to be shown invalid), "failing" (the name of
//   a connector whose task fails), "failing_trace"}; or, behind Basic
//   authentication, {"url", "out", "user", "password", "name", "plugin",
//   "config" (pasted as JSON)}.
// Needs playwright-core on NODE_PATH (scripts/setup console) and
// /usr/bin/chromium (scripts/setup apt). Exits non-zero on the first step
// that does not happen within its deadline, naming it.
"use strict";
const fs = require("fs");
const path = require("path");

let chromium;
try {
  ({ chromium } = require("playwright-core"));
} catch (e) {
  console.error("playwright-core is not installed: run scripts/setup console (" + e.message + ")");
  process.exit(3);
}

const scenario = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const STEP_MS = 60000;

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.SLUICE_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(STEP_MS);
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push("console error: " + m.text()); });
  page.on("dialog", (d) => d.accept());
  let shot = 0;
  // A screenshot of the whole page, or of the window only (a long form).
  const snap = async (what, fullPage = true) => {
    shot += 1;
    const file = path.join(scenario.out, `${String(shot).padStart(2, "0")}-${what}.png`);
    await page.screenshot({ path: file, fullPage });
    console.log(`step ${shot}: ${what} (${file})`);
  };
  const tid = (id) => page.locator(`[data-testid="${id}"]`);
  const expectText = async (locator, re, what) => {
    try {
      await locator.filter({ hasText: re }).first().waitFor({ state: "visible" });
    } catch (e) {
      const now = await locator.first().textContent().catch(() => "(absent)");
      throw new Error(`${what}: expected ${re}, shows ${JSON.stringify(now)}`);
    }
  };

  // 1. The connector list, with the failing connector already there.
  await page.goto(scenario.url + "/ui");
  await expectText(page.locator(`tr[data-connector="${scenario.failing}"]`), new RegExp(scenario.failing), "the list shows the existing connector");
  await snap("connector-list");

  // 2. The form: plugin, name, then each setting; one typed wrong first.
  await tid("nav-new").click();
  await tid("field-plugin").selectOption(scenario.plugin);
  await tid("field-name").fill(scenario.name);
  await page.locator("#show-all").check();
  await tid("field-" + scenario.bad_key).waitFor();
  for (const [key, value] of Object.entries(scenario.config)) {
    if (key === "connector.class") continue;
    const field = tid("field-" + key);
    const typed = key === scenario.bad_key ? scenario.bad_value : value;
    if ((await field.count()) === 0) {
      // A setting the plugin does not declare: added by name.
      await tid("new-key").fill(key);
      await tid("new-value").fill(typed);
      await tid("add-setting").click();
      await field.waitFor();
    } else if ((await field.evaluate((e) => e.tagName)) === "SELECT") await field.selectOption(typed);
    else await field.fill(typed);
  }
  await expectText(tid("error-" + scenario.bad_key), /./, `an error beside ${scenario.bad_key}`);
  const shown = await tid("error-" + scenario.bad_key).first().textContent();
  console.log(`validation error shown beside ${scenario.bad_key}: ${shown}`);
  await tid("field-" + scenario.bad_key).evaluate((e) => e.scrollIntoView({ block: "center" }));
  await snap("validation-error", false);
  await tid("field-" + scenario.bad_key).fill(scenario.config[scenario.bad_key]);
  await tid("error-" + scenario.bad_key).waitFor({ state: "detached" });
  await expectText(tid("validation"), /configuration is valid/, "the form says the configuration is valid");
  await tid("field-" + scenario.bad_key).evaluate((e) => e.scrollIntoView({ block: "center" }));
  await snap("validation-fixed", false);
  await tid("save").click();

  // 3. RUNNING, and the snapshot bar at 100%.
  await expectText(tid("detail-name"), new RegExp(scenario.name), "the new connector's page");
  await expectText(tid("connector-state"), /^RUNNING$/, "the connector's state");
  await expectText(tid("task-state-0"), /^RUNNING$/, "task 0's state");
  await page.locator('[data-testid="snapshot-0"] [data-testid="snapshot-bar"][aria-valuenow="100"]').first().waitFor();
  await tid("rate-0").waitFor();
  await snap("running-snapshot-done");

  // 4. Pause and resume.
  await tid("pause").click();
  await expectText(tid("connector-state"), /^PAUSED$/, "the state after pause");
  await expectText(tid("task-state-0"), /^PAUSED$/, "task 0 after pause");
  await snap("paused");
  await tid("resume").click();
  await expectText(tid("connector-state"), /^RUNNING$/, "the state after resume");
  await expectText(tid("task-state-0"), /^RUNNING$/, "task 0 after resume");
  await snap("resumed");

  // The workers and what each runs (one, standalone).
  await tid("nav-workers").click();
  await expectText(page.locator("tr[data-worker]"), new RegExp(`${scenario.name}-0 \\(RUNNING\\)`), "the worker running the task");
  await snap("workers");

  // 5. A failed task's trace.
  await tid("nav-connectors").click();
  await page.locator(`tr[data-connector="${scenario.failing}"]`).click();
  await expectText(tid("task-state-0"), /^FAILED$/, "the failing connector's task");
  await expectText(tid("task-trace-0"), new RegExp(scenario.failing_trace), "the failed task's trace");
  await snap("failed-task-trace");

  // 6. Stop the MySQL connector, look at its offsets, reset them.
  await tid("nav-connectors").click();
  await page.locator(`tr[data-connector="${scenario.name}"]`).click();
  await tid("stop").click();
  await expectText(tid("connector-state"), /^STOPPED$/, "the state after stop");
  await page.locator('[data-testid="reset-offsets"]:enabled').waitFor();
  await tid("load-offsets").click();
  await expectText(tid("offsets"), /"offset"/, "the stopped connector's offsets");
  console.log("offsets before the reset: " + (await tid("offsets").textContent()).replace(/\s+/g, " "));
  await snap("offsets");
  await tid("reset-offsets").click();
  await expectText(tid("message"), /reset/, "the reset's answer");
  await expectText(tid("offsets"), /"offsets": \[\]/, "the offsets after the reset");
  await snap("offsets-reset");

  await browser.close();
  if (problems.length) throw new Error("the page reported errors:\n" + problems.join("\n"));
}

// Behind Basic authentication: the page asks for credentials, then works.
async function behindAuthentication() {
  const browser = await chromium.launch({
    executablePath: process.env.SLUICE_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  // Without credentials the browser is refused (a navigation answered 401
  // fails in headless Chromium, which has no prompt to show).
  const anonymous = await browser.newPage();
  const refused = await anonymous.goto(scenario.url + "/ui").then(() => null, (e) => e.message);
  if (!refused || !/AUTH/.test(refused)) throw new Error("/ui without credentials was not refused: " + refused);
  console.log("without credentials: " + refused.split("\n")[0]);
  const context = await browser.newContext({ httpCredentials: { username: scenario.user, password: scenario.password } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on("dialog", (d) => d.accept());
  const tid = (id) => page.locator(`[data-testid="${id}"]`);
  await page.goto(scenario.url + "/ui");
  await tid("nav-new").click();
  await tid("field-plugin").selectOption(scenario.plugin);
  await tid("field-name").fill(scenario.name);
  await page.locator("#show-json").check();
  await tid("json").fill(JSON.stringify(scenario.config));
  await tid("save").click();
  await tid("task-state-0").filter({ hasText: /^RUNNING$/ }).waitFor();
  await page.screenshot({ path: path.join(scenario.out, "auth-running.png"), fullPage: true });
  console.log("created and RUNNING behind authentication");
  await browser.close();
}

(scenario.user ? behindAuthentication : main)().then(
  () => console.log("console scenario done"),
  (e) => { console.error("console scenario failed: " + (e && e.stack || e)); process.exit(1); }
);
