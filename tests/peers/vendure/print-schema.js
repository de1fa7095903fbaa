// Prints the SDL of a running Vendure peer's Admin API, as committed in
// src/connector/vendure/schema.graphql:
//   node print-schema.js http://127.0.0.1:PORT/admin-api > schema.graphql
// Uses the `graphql` package that @vendure/core already installs.
'use strict';

const { getIntrospectionQuery, buildClientSchema, printSchema } = require('graphql');

async function main() {
    const url = process.argv[2];
    if (!url) {
        console.error('usage: node print-schema.js http://127.0.0.1:PORT/admin-api');
        process.exit(2);
    }
    const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: getIntrospectionQuery() }),
    });
    const body = await response.json();
    if (body.errors) {
        throw new Error(`introspection failed: ${JSON.stringify(body.errors)}`);
    }
    process.stdout.write(printSchema(buildClientSchema(body.data)) + '\n');
}

main().catch(err => {
    console.error(err.message || err);
    process.exit(1);
});
