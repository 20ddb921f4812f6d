// The browsable API at /api/v1/docs: Swagger UI on the OpenAPI document, configured from the page's JSON block.
// validatorUrl: null, so that nothing is fetched from swagger.io (nothing comes from the internet at run time).
(() => {
  const config = JSON.parse(document.getElementById("swagger-ui-config").textContent);
  window.ui = SwaggerUIBundle(Object.assign({url: config.url, dom_id: config.dom_id, validatorUrl: null},
                                            config.override));
})();
