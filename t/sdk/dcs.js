#!/usr/bin/env node
// The hot key operations of the official DCS SDK, on the official Node.js
// SDK core (@huaweicloud/huaweicloud-sdk-core, installed by
// scripts/test-deps.sh into build/node): each operation's request is the
// one the generated client builds (huaweicloud-sdk-nodejs-v3,
// services/dcs/v2/DcsClient.ts, ParamCreater), sent by the core's
// HcClient.sendRequest with BasicCredentials (AK/SK, project id), exactly
// as DcsClient.<operation>() sends it:
//
//   CreateHotkeyScanTask        POST   .../hotkey-task
//   ShowHotkeyTaskDetails       GET    .../hotkey-task/{hotkey_id}
//   DeleteHotkeyScanTask        DELETE .../hotkey-task/{hotkey_id}
//   ListHotKeyScanTasks         GET    .../hotkey-tasks  (offset, limit, status)
//   ShowHotkeyAutoscanConfig    GET    .../hotkey/autoscan
//   UpdateHotkeyAutoScanConfig  PUT    .../hotkey/autoscan  (body: AutoscanConfigRequest)
//
// all under /v2/{project_id}/instances/{instance_id}/; contentType
// application/json (application/json;charset=UTF-8 for the PUT, which the
// core sends as application/json); no body but the PUT's.
//
// Input: one JSON object per line on stdin:
//   {"op":"CreateHotkeyScanTask","endpoint":"http://127.0.0.1:8080",
//    "ak":..,"sk":..,"project_id":..,"instance_id":..,"hotkey_id":..,
//    "offset":..,"limit":..,"status":..,"body":{...}}
//   test-only overrides (still sent by HcClient, signed by the core):
//    "data": the body given to HcClient as it is, in place of the
//    operation's (an array, a string, ...; null: no body at all; the core
//    signs JSON.stringify(data) and axios sends a string that is not JSON
//    as a JSON string, so only such strings make consistent requests),
//    "method": another method; {"parallel":[request, ...]} sends them all
//    at once.
// Output: one JSON line per input line (an array for "parallel"):
//   success   {"ok":true,"status":200,"body":{...what the SDK returns,
//              httpStatusCode removed},"unknown":[fields outside the
//              operation's response model]}
//   exception {"ok":false,"name":"ClientRequestException","status":400,
//              "error_code":..,"error_msg":..,"request_id":..}
//
// HOTKEY_NODE_MODULES: the node_modules folder holding the SDK core
// (default: <repo>/build/node/node_modules).
'use strict';

const path = require('path');

const top = path.resolve(__dirname, '..', '..');
const nm = process.env.HOTKEY_NODE_MODULES
    || path.resolve(top, process.env.HOTKEY_BUILD || 'build', 'node', 'node_modules');
const core = path.join(nm, '@huaweicloud', 'huaweicloud-sdk-core');

let HcClient, DefaultHttpClient, BasicCredentials;
try {
    ({ HcClient } = require(path.join(core, 'HcClient')));
    ({ DefaultHttpClient } = require(path.join(core, 'http', 'DefaultHttpClient')));
    ({ BasicCredentials } = require(core));
} catch (e) {
    process.stderr.write(`dcs.js: cannot load the SDK from ${core}: ${e.message}\n`
        + 'run scripts/test-deps.sh\n');
    process.exit(3);
}

const PREFIX = '/v2/{project_id}/instances/{instance_id}';
const TASK = ['id', 'instance_id', 'status', 'scan_type', 'created_at',
    'started_at', 'finished_at', 'num', 'keys'];
const AUTOSCAN = ['instance_id', 'enable_auto_scan', 'schedule_at', 'updated_at'];

// the generated client's request definitions and response models
const OPS = {
    CreateHotkeyScanTask: {
        method: 'POST', url: `${PREFIX}/hotkey-task`,
        contentType: 'application/json', model: TASK,
    },
    ShowHotkeyTaskDetails: {
        method: 'GET', url: `${PREFIX}/hotkey-task/{hotkey_id}`,
        contentType: 'application/json', task: true, model: TASK,
    },
    DeleteHotkeyScanTask: {
        method: 'DELETE', url: `${PREFIX}/hotkey-task/{hotkey_id}`,
        contentType: 'application/json', task: true, model: [],
    },
    ListHotKeyScanTasks: {
        method: 'GET', url: `${PREFIX}/hotkey-tasks`,
        contentType: 'application/json', query: ['offset', 'limit', 'status'],
        model: ['instance_id', 'count', 'records'],
    },
    ShowHotkeyAutoscanConfig: {
        method: 'GET', url: `${PREFIX}/hotkey/autoscan`,
        contentType: 'application/json', model: AUTOSCAN,
    },
    UpdateHotkeyAutoScanConfig: {
        method: 'PUT', url: `${PREFIX}/hotkey/autoscan`,
        contentType: 'application/json;charset=UTF-8', body: true, model: AUTOSCAN,
    },
};

const KEY = ['name', 'type', 'shard', 'db', 'size', 'unit', 'freq'];
const RECORD = ['id', 'status', 'scan_type', 'created_at', 'started_at', 'finished_at'];

// what ParamCreater().<operation>(request) returns
function paramCreater(def, req) {
    const options = {
        method: def.method,
        url: def.url,
        contentType: def.contentType,
        queryParams: {},
        pathParams: {},
        headers: {},
    };
    if (req.instance_id === null || req.instance_id === undefined) {
        throw new Error('Required parameter instanceId was null or undefined');
    }
    options.pathParams = { instance_id: req.instance_id };
    if (def.task) {
        if (req.hotkey_id === null || req.hotkey_id === undefined) {
            throw new Error('Required parameter hotkeyId was null or undefined');
        }
        options.pathParams.hotkey_id = req.hotkey_id;
    }
    for (const q of def.query || []) {
        if (req[q] !== null && req[q] !== undefined) options.queryParams[q] = req[q];
    }
    if (def.body) {
        if (req.body === null || req.body === undefined) {
            throw new Error('Required parameter body was null or undefined');
        }
        options.headers['Content-Type'] = 'application/json;charset=UTF-8';
        options.data = req.body;
    }
    return options;
}

// fields of the answer the operation's response model does not know
function unknownFields(def, body) {
    const out = [];
    const check = (obj, fields, where) => {
        if (!obj || typeof obj !== 'object') return;
        for (const k of Object.keys(obj)) {
            if (!fields.includes(k)) out.push(where + k);
        }
    };
    check(body, def.model, '');
    for (const [i, k] of (Array.isArray(body.keys) ? body.keys : []).entries()) {
        check(k, KEY, `keys[${i}].`);
    }
    for (const [i, r] of (Array.isArray(body.records) ? body.records : []).entries()) {
        check(r, RECORD, `records[${i}].`);
    }
    return out;
}

async function call(req) {
    const def = OPS[req.op];
    if (!def) return { ok: false, name: 'UnknownOperation', error_msg: req.op };

    const cred = new BasicCredentials().withAk(req.ak).withSk(req.sk)
        .withProjectId(req.project_id);
    // the SDK's client logs failures on stdout: keep stdout for the JSON
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const http = new DefaultHttpClient({ logger: quiet }, [req.endpoint]);
    const client = new HcClient(http, {}).withCredential(cred).withEndpoints([req.endpoint]);

    let options;
    try {
        options = paramCreater(def, req);
    } catch (e) {
        return { ok: false, name: 'RequiredError', error_msg: e.message };
    }
    if (req.data === null) delete options.data;
    else if (req.data !== undefined) options.data = req.data;
    if (req.method) options.method = req.method;
    options.responseHeaders = [''];     // as DcsClient.<operation>() sets it

    try {
        const res = await client.sendRequest(options);
        const status = res.httpStatusCode;
        delete res.httpStatusCode;
        return { ok: true, status, body: res, unknown: unknownFields(def, res) };
    } catch (e) {
        return {
            ok: false,
            name: e.name ?? null,
            status: e.httpStatusCode ?? e.status ?? null,
            error_code: e.errorCode ?? null,
            error_msg: e.errorMsg ?? e.message ?? null,
            request_id: e.requestId ?? null,
        };
    }
}

async function main() {
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    for (const line of input.split('\n')) {
        if (!line.trim()) continue;
        const j = JSON.parse(line);
        const out = j.parallel ? await Promise.all(j.parallel.map(call)) : await call(j);
        process.stdout.write(JSON.stringify(out) + '\n');
    }
}

main().catch((e) => {
    process.stderr.write(`dcs.js: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
});
