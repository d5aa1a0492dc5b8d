// policygraph's GraphiQL boot script (not vendored). It reads its settings
// from the JSON block that the Go handler writes into index.html, so the page
// needs no inline script (the Content-Security-Policy forbids one).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("pg-ide-config").textContent);
  var root = document.getElementById("graphiql");
  var fetcher = GraphiQL.createFetcher({ url: config.endpoint });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      defaultEditorToolsVisibility: false,
    })
  );
})();
