// Starts Swagger UI on /openapi.json. The token the dashboard keeps for this
// tab (sessionStorage) is sent with every call, the document's own included;
// without one, the page asks for it, and Swagger UI's Authorize sets another.
"use strict";

const TOKEN_KEY = "nommer-token";

function token() {
  let value = sessionStorage.getItem(TOKEN_KEY);
  return value ? value : null;
}

async function needsToken() {
  const answer = await fetch("openapi.json", {cache: "no-store",
    headers: token() ? {"Authorization": "Bearer " + token()} : {}});
  return answer.status === 401;
}

async function start() {
  if (await needsToken()) {
    const given = window.prompt("This farm needs an API token (one of its api_tokens):");
    if (given && given.trim()) sessionStorage.setItem(TOKEN_KEY, given.trim());
  }
  const ui = window.SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    requestInterceptor: (request) => {
      // Authorize's token, when given, wins over the tab's.
      const headers = request.headers || (request.headers = {});
      if (!headers.Authorization && token()) headers.Authorization = "Bearer " + token();
      return request;
    },
    responseInterceptor: (response) => {
      if (response.status === 401 && response.url.endsWith("/openapi.json")) sessionStorage.removeItem(TOKEN_KEY);
      return response;
    },
    // Authorize shows the tab's token once the document is read.
    onComplete: () => { if (token()) window.nommerReader.preauthorizeApiKey("bearer", token()); },
  });
  window.nommerReader = ui;
}

window.addEventListener("DOMContentLoaded", start);
