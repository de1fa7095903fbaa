//! Assets as a shop owner uploads them in Vendure's dashboard: a GraphQL
//! multipart `createAssets`, named by the file's name (not by a URL, as the
//! tool names its own uploads).

use serde_json::json;

use super::VendurePeer;

impl VendurePeer {
    /// Uploads `bytes` (a PNG) as `file_name`; the asset's id and the URL
    /// Vendure serves it at.
    pub fn upload_asset(&self, file_name: &str, bytes: &[u8]) -> (String, String) {
        let operations = json!({
            "query": "mutation($input: [CreateAssetInput!]!) { createAssets(input: $input) \
                      { __typename ... on Asset { id source } ... on ErrorResult { message } } }",
            "variables": {"input": [{"file": null}]},
        });
        let boundary = "test-support-asset-boundary-7d1e";
        let mut body = Vec::new();
        for (headers, content) in [
            (
                "Content-Disposition: form-data; name=\"operations\"".to_string(),
                operations.to_string().into_bytes(),
            ),
            (
                "Content-Disposition: form-data; name=\"map\"".to_string(),
                br#"{"0":["variables.input.0.file"]}"#.to_vec(),
            ),
            (
                format!(
                    "Content-Disposition: form-data; name=\"0\"; filename=\"{file_name}\"\r\nContent-Type: image/png"
                ),
                bytes.to_vec(),
            ),
        ] {
            body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
            body.extend_from_slice(&content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let token = self.token.lock().unwrap().clone();
        let reply: serde_json::Value = self.runtime.block_on(async {
            let mut request = self
                .http
                .post(self.admin_api_url())
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.expect("createAssets request");
            response.json().await.expect("createAssets body is JSON")
        });
        let asset = &reply["data"]["createAssets"][0];
        assert_eq!(asset["__typename"], "Asset", "createAssets: {reply}");
        (
            asset["id"].as_str().expect("id").to_string(),
            asset["source"].as_str().expect("source").to_string(),
        )
    }
}
