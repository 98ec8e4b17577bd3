// Stops a model's engine and frees its memory off the JavaScript thread (joining the engine thread waits
// for the current forward pass).
#pragma once

#include <napi.h>

namespace torchgen {

class AddonModel;

class DisposeWorker : public Napi::AsyncWorker {
 public:
  DisposeWorker(Napi::Env env, AddonModel* model);

 protected:
  void Execute() override;
  void OnOK() override;

 private:
  AddonModel* model_;  // kept alive by the Ref() taken in AddonModel::Dispose
};

}  // namespace torchgen
