// Configuration of the Medusa test peer. Everything a test varies comes from
// the environment set by tests/it/support/medusa.rs; everything else is
// Medusa's stock default, so the client lives within a real server's limits.
const { defineConfig } = require("@medusajs/framework/utils")

function required(name) {
  const value = process.env[name]
  if (!value) {
    throw new Error(`medusa-config.js: environment variable ${name} is not set`)
  }
  return value
}

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: required("DATABASE_URL"),
    http: {
      storeCors: "http://127.0.0.1",
      adminCors: "http://127.0.0.1",
      authCors: "http://127.0.0.1",
      jwtSecret: required("JWT_SECRET"),
      cookieSecret: required("COOKIE_SECRET"),
      // Stock default ("1d") unless a test asks for a short lifetime.
      ...(process.env.JWT_EXPIRES_IN ? { jwtExpiresIn: process.env.JWT_EXPIRES_IN } : {}),
    },
  },
  admin: { disable: true },
})
