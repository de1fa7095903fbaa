// A real Vendure server for the oms-channels integration tests, started by
// tests/it/support/vendure.rs. Everything comes from env vars; limits stay
// at Vendure's stock values (JSON body 100 kB, adminListQueryLimit 1000) so
// the client is tested against what a real shop allows.
//
//   VENDURE_PORT                 port on 127.0.0.1 (required)
//   VENDURE_DB_URL               postgres://user@host:port/db (required)
//   VENDURE_SUPERADMIN_USER      default "superadmin"
//   VENDURE_SUPERADMIN_PASSWORD  default "superadmin"
//   VENDURE_SESSION_DURATION     default Vendure's own ("1y"); e.g. "8s"
//   VENDURE_LOG_LEVEL            error | warn | info | verbose | debug (default warn)
//   VENDURE_EXIT_ON_STDIN_EOF    "1": exit when stdin closes, so the server
//                                dies with the test process that started it
//   VENDURE_ASSET_DIR            where the AssetServerPlugin keeps uploaded
//                                files (required; served under /assets)
//
// Beyond stock Vendure: the AssetServerPlugin (product images are uploaded
// assets), and one `text` custom field `omsAttributes` on Product and on
// ProductVariant, where the connector keeps attributes as JSON when a
// channel sets `attributes-field`.
'use strict';

process.env.VENDURE_DISABLE_TELEMETRY = 'true';

const { bootstrap, DefaultLogger, LogLevel } = require('@vendure/core');
const { AssetServerPlugin } = require('@vendure/asset-server-plugin');

function required(name) {
    const value = process.env[name];
    if (!value) {
        console.error(`server.js: env var ${name} is required`);
        process.exit(2);
    }
    return value;
}

const levels = {
    error: LogLevel.Error,
    warn: LogLevel.Warn,
    info: LogLevel.Info,
    verbose: LogLevel.Verbose,
    debug: LogLevel.Debug,
};

const authOptions = {
    tokenMethod: ['bearer', 'api-key'],
    superadminCredentials: {
        identifier: process.env.VENDURE_SUPERADMIN_USER || 'superadmin',
        password: process.env.VENDURE_SUPERADMIN_PASSWORD || 'superadmin',
    },
    requireVerification: false,
};
if (process.env.VENDURE_SESSION_DURATION) {
    authOptions.sessionDuration = process.env.VENDURE_SESSION_DURATION;
}

const config = {
    apiOptions: {
        hostname: '127.0.0.1',
        port: Number(required('VENDURE_PORT')),
        adminApiPath: 'admin-api',
        shopApiPath: 'shop-api',
    },
    authOptions,
    dbConnectionOptions: {
        type: 'postgres',
        url: required('VENDURE_DB_URL'),
        synchronize: true,
        logging: false,
    },
    paymentOptions: { paymentMethodHandlers: [] },
    logger: new DefaultLogger({ level: levels[process.env.VENDURE_LOG_LEVEL || 'warn'] }),
    customFields: {
        Product: [{ name: 'omsAttributes', type: 'text', nullable: true }],
        ProductVariant: [{ name: 'omsAttributes', type: 'text', nullable: true }],
    },
    plugins: [
        AssetServerPlugin.init({
            route: 'assets',
            assetUploadDir: required('VENDURE_ASSET_DIR'),
        }),
    ],
};

if (process.env.VENDURE_EXIT_ON_STDIN_EOF === '1') {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
}

bootstrap(config)
    .then(() => console.log(`vendure peer listening on 127.0.0.1:${config.apiOptions.port}`))
    .catch(err => {
        console.error('vendure peer failed to start:', err);
        process.exit(1);
    });
