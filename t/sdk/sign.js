#!/usr/bin/env node
// Signs a request with the official Huawei Cloud Node.js SDK core
// (@huaweicloud/huaweicloud-sdk-core, installed by scripts/test-deps.sh
// into build/node) and prints what the SDK would send, as JSON:
//
//   {"method":"GET","path":"/v2/...?limit=10","headers":{...},"body":null}
//
// The request goes through the SDK's own HcClient.buildRequest, i.e.
// BasicCredentials.processAuthRequest and AKSKSigner.sign, exactly as a
// generated service client (e.g. the DCS one) calls them: every header of
// the request is signed, the query is signed from queryParams, the body
// hash is SHA-256 of JSON.stringify(data).
//
// usage: node t/sdk/sign.js [options] METHOD URL AK SK
//        node t/sdk/sign.js --batch < requests.jsonl
//   --body JSON          the request body (a JSON document; the SDK sends
//                        and hashes JSON.stringify of it)
//   --raw-body TEXT      a body given to the SDK as a string, as is
//   --header 'N: V'      one more request header (repeatable)
//   --content-type T     the operation's content type (options.contentType)
//   --project-id P       BasicCredentials.withProjectId(P) (adds X-Project-Id)
//   --date D             X-Sdk-Date to use instead of now (YYYYMMDDTHHMMSSZ)
//   --derived R/S        sign with the SDK's DerivedAKSKSigner
//                        (V11-HMAC-SHA256), region R and service S
//   --send               send it with the SDK's own HTTP client (axios) and
//                        print {"status":N,"body":...} instead
//   --batch              read one request per line on stdin as JSON (keys:
//                        method url ak sk body raw_body headers content_type
//                        project_id date derived send), print one answer
//                        per line
//
// HOTKEY_NODE_MODULES: the node_modules folder holding the SDK
// (default: <repo>/build/node/node_modules).
'use strict';

const path = require('path');
const querystring = require('querystring');

const top = path.resolve(__dirname, '..', '..');
const nm = process.env.HOTKEY_NODE_MODULES
    || path.resolve(top, process.env.HOTKEY_BUILD || 'build', 'node', 'node_modules');
const core = path.join(nm, '@huaweicloud', 'huaweicloud-sdk-core');

function usage(msg) {
    if (msg) process.stderr.write(`sign.js: ${msg}\n`);
    process.stderr.write('usage: node t/sdk/sign.js [--body JSON] [--raw-body T] [--header "N: V"]... '
        + '[--content-type T] [--project-id P] [--date D] [--send] METHOD URL AK SK\n'
        + '       node t/sdk/sign.js --batch < requests.jsonl\n');
    process.exit(2);
}

// one request per invocation (the arguments), or with --batch one JSON
// object per line on stdin: {"method","url","ak","sk","body","raw_body",
// "headers":["N: V"],"content_type","project_id","date","send"}, one JSON
// answer per line on stdout
function parseArgs(argv) {
    const opt = { headers: [] };
    const pos = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
        switch (a) {
        case '--body': opt.body = val(); break;
        case '--raw-body': opt.rawBody = val(); break;
        case '--header': opt.headers.push(val()); break;
        case '--content-type': opt.contentType = val(); break;
        case '--project-id': opt.projectId = val(); break;
        case '--date': opt.date = val(); break;
        case '--derived': opt.derived = val(); break;
        case '--send': opt.send = true; break;
        case '--batch': opt.batch = true; break;
        case '--help': usage(); break;
        default:
            if (a.startsWith('--')) usage(`unknown option ${a}`);
            pos.push(a);
        }
    }
    if (opt.batch) return opt;
    if (pos.length !== 4) usage('METHOD URL AK SK expected');
    [opt.method, opt.url, opt.ak, opt.sk] = pos;
    return opt;
}

const cli = parseArgs(process.argv.slice(2));

let HcClient, DefaultHttpClient, BasicCredentials;
try {
    ({ HcClient } = require(path.join(core, 'HcClient')));
    ({ DefaultHttpClient } = require(path.join(core, 'http', 'DefaultHttpClient')));
    ({ BasicCredentials } = require(core));
} catch (e) {
    process.stderr.write(`sign.js: cannot load the SDK from ${core}: ${e.message}\n`
        + 'run scripts/test-deps.sh\n');
    process.exit(3);
}

async function run(opt) {
    const { method, url, ak, sk } = opt;
    const u = new URL(url);
    const endpoint = `${u.protocol}//${u.host}`;
    // the query as the SDK takes it: an object of parameters
    const queryParams = u.search ? querystring.parse(u.search.slice(1)) : {};

    const headers = {};
    for (const h of opt.headers) {
        const m = /^([^:]+):\s?(.*)$/.exec(h);
        if (!m) usage(`bad header ${h}`);
        headers[m[1]] = m[2];
    }
    if (opt.date) headers['X-Sdk-Date'] = opt.date;

    let data;
    if (opt.body !== undefined) data = JSON.parse(opt.body);
    if (opt.rawBody !== undefined) data = opt.rawBody;

    const cred = new BasicCredentials().withAk(ak).withSk(sk);
    if (opt.projectId) cred.withProjectId(opt.projectId);
    if (opt.derived) {
        const [region, service] = opt.derived.split('/');
        cred.withDerivedPredicate(() => true).withRegionId(region);
        cred.processDerivedAuthParams(service, region);
    }

    // the SDK's client logs failures on stdout: keep stdout for the JSON
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const http = new DefaultHttpClient({ logger: quiet }, [endpoint]);
    const client = new HcClient(http, {}).withCredential(cred).withEndpoints([endpoint]);

    const options = {
        method,
        url: decodeURIComponent(u.pathname),  // the SDK encodes it again
        pathParams: {},
        queryParams,
        headers,
        data,
    };
    if (opt.contentType) options.contentType = opt.contentType;

    if (opt.send) {
        try {
            const res = await client.sendRequest(options);
            const status = res.httpStatusCode;
            delete res.httpStatusCode;
            return { status, body: res };
        } catch (e) {
            return {
                status: e.status ?? e.httpStatusCode ?? null,
                error_code: e.errorCode ?? null,
                error_msg: e.errorMsg ?? e.message ?? null,
            };
        }
    }

    const req = await client.buildRequest(options);
    const qs = querystring.stringify(req.queryParams || {});
    let body = null;
    if (req.data !== undefined && req.data !== null) {
        body = typeof req.data === 'string' ? req.data : JSON.stringify(req.data);
    }
    const out = {
        method: req.method,
        path: u.pathname + (qs ? `?${qs}` : ''),
        headers: req.headers,
        body,
    };
    return out;
}

async function main() {
    if (!cli.batch) {
        process.stdout.write(JSON.stringify(await run(cli)) + '\n');
        return;
    }
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    for (const line of input.split('\n')) {
        if (!line.trim()) continue;
        const j = JSON.parse(line);
        const opt = {
            method: j.method, url: j.url, ak: j.ak, sk: j.sk, body: j.body,
            rawBody: j.raw_body, headers: j.headers || [], contentType: j.content_type,
            projectId: j.project_id, date: j.date, derived: j.derived, send: !!j.send,
        };
        process.stdout.write(JSON.stringify(await run(opt)) + '\n');
    }
}

main().catch((e) => {
    process.stderr.write(`sign.js: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
});
